"""Presumed aggressors: who may receive what given a case's flags (tables), and the hub's
record of naming and lifting, and of what it refuses, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from adapters.ledger.aggressors import barred_recipients, named_on
from adapters.ledger.tables import DeadLetterRow, PresumedAggressorRow
from bus.domain import aggressors
from bus.domain.federal import BOARD, MECHANISM
from bus.domain.ladder import Obligation, rungs_due
from bus.domain.policy import Clock, Policy
from bus.domain.recording import Result, record_batch
from schemas.tracking import AggressorAction, EscalationLevel, PresumedAggressor, RejectionReason
from tests import builders as b
from tests.fakes import MemoryLedger
from tests.test_recording import NOW, Stream

CASE = "MPDDHP-2026-0412"
ROLE = "Titular de la Coordinación Ejecutiva Nacional"


def flag(agency: str, *, lift: bool = False, case: str = CASE, **fields: Any) -> PresumedAggressor:
    action = AggressorAction.LIFTED if lift else AggressorAction.SET
    return PresumedAggressor.model_validate(
        {
            "source": "fed.mechanism",
            "time": b.T0,
            "subject": case,
            "data": {"agency": agency, "action": action, "official_role": ROLE},
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("recipients", "flagged", "barred"),
    [
        (("gro.government",), frozenset(), ()),
        (("gro.government",), frozenset({"gro.prosecutor"}), ()),
        (("gro.government", "gro.prosecutor"), frozenset({"gro.prosecutor"}), ("gro.prosecutor",)),
        (
            ("gro.prosecutor", "gro.commission", "gro.government"),
            frozenset({"gro.government", "gro.prosecutor"}),
            ("gro.prosecutor", "gro.government"),
        ),
    ],
)
def test_which_recipients_are_barred(
    recipients: tuple[str, ...], flagged: frozenset[str], barred: tuple[str, ...]
) -> None:
    assert aggressors.barred(recipients, flagged) == barred
    for agency in recipients:
        assert aggressors.may_receive(agency, flagged) is (agency not in barred)


@pytest.mark.parametrize(
    ("to", "flagged", "sent_to"),
    [
        ("gro.government", frozenset(), "gro.government"),
        ("gro.government", frozenset({"gro.prosecutor"}), "gro.government"),
        ("gro.government", frozenset({"gro.government"}), MECHANISM),
        (BOARD, frozenset({"gro.government"}), BOARD),
    ],
)
def test_hub_messages_go_to_the_mechanism_instead(
    to: str, flagged: frozenset[str], sent_to: str
) -> None:
    assert aggressors.redirect(to, flagged) == sent_to


@pytest.mark.parametrize(
    ("message", "checked"),
    [
        (b.patrol_request(), True),  # the Mechanism's request
        (b.recall("request-0001"), True),  # a follow-up
        (b.acknowledgement("request-0001"), False),  # an agency's answer: no recipients
        (flag("gro.government"), False),  # no recipients: on the Mechanism's outbox
    ],
)
def test_which_messages_are_checked(message: Any, checked: bool) -> None:
    assert aggressors.checked(message, b.REGISTRY) is checked


@pytest.mark.parametrize(
    ("action", "flagged", "agency", "refused"),
    [
        (AggressorAction.SET, frozenset(), "gro.government", None),
        (AggressorAction.SET, frozenset({"gro.government"}), "gro.government", "already named"),
        (AggressorAction.LIFTED, frozenset({"gro.government"}), "gro.government", None),
        (AggressorAction.LIFTED, frozenset(), "gro.government", "nothing to lift"),
        (AggressorAction.SET, frozenset(), "fed.board", "federal agency"),
    ],
)
def test_naming_and_lifting(
    action: AggressorAction, flagged: frozenset[str], agency: str, refused: str | None
) -> None:
    message = flag(agency, lift=action is AggressorAction.LIFTED)
    why = aggressors.change_refused(message, flagged, b.REGISTRY)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_a_presumed_aggressor_notice_names_a_case_and_nobody() -> None:
    with pytest.raises(ValueError, match="subject is the case"):
        flag("gro.government", case=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no recipients"):
        flag("gro.government", recipients=("gro.government",))


def test_the_authority_notice_goes_to_the_mechanism_when_the_authority_is_flagged() -> None:
    policy = Policy.load()
    due = b.T0 + timedelta(hours=4)
    obligation = Obligation(
        "req-1", "gro.prosecutor", Clock.ACKNOWLEDGEMENT, b.T0, due, case_ref=CASE
    )
    later = b.T0 + timedelta(days=30)

    def targets(flags: frozenset[str]) -> dict[EscalationLevel, str]:
        ob = Obligation(**{**obligation.__dict__, "presumed_aggressors": flags})
        return {r.level: r.to_agency for r in rungs_due(ob, policy, later, b.REGISTRY)}

    assert targets(frozenset())[EscalationLevel.AUTHORITY_NOTICE] == "gro.government"
    flagged = targets(frozenset({"gro.government"}))
    assert flagged[EscalationLevel.AUTHORITY_NOTICE] == MECHANISM
    assert flagged[EscalationLevel.REMINDER] == "gro.prosecutor"
    assert flagged[EscalationLevel.BOARD_AGENDA] == BOARD
    # the agency that owes the answer may itself be flagged since: its reminder goes home
    assert targets(frozenset({"gro.prosecutor"}))[EscalationLevel.REMINDER] == MECHANISM


def test_the_hub_refuses_a_request_to_a_flagged_agency_in_memory() -> None:
    ledger, stream = MemoryLedger(), Stream()
    request = b.patrol_request(recipients=("gro.government", "gro.prosecutor"))
    outcomes = record_batch(
        ledger,  # type: ignore[arg-type]
        [stream.deliver(flag("gro.prosecutor")), *_copies(stream, request)],
        NOW,
        b.RULES,
    )
    assert [o.result for o in outcomes] == [Result.RECORDED, *[Result.DEAD_LETTER] * 2]
    assert {o.reason for o in outcomes[1:]} == {RejectionReason.PRESUMED_AGGRESSOR}
    assert outcomes[1].notice is not None and outcomes[1].notice.recipients == (MECHANISM,)
    assert "gro.prosecutor" in ledger.state.dead_letters[0].detail
    assert ledger.state.requests == {}  # nothing of it recorded as sent


def _copies(stream: Stream, message: Any) -> list[Any]:
    from bus.domain import subjects

    return [
        stream.deliver(message, subject)
        for subject, _ in subjects.published_routes(message, b.REGISTRY)
    ]


def test_flag_and_lift_are_recorded_with_who_and_when(ledger: Any) -> None:
    stream = Stream()
    named, lifted = flag("gro.government"), flag("gro.government", lift=True)
    later = NOW + timedelta(hours=2)
    record_batch(ledger, [stream.deliver(named)], NOW, b.RULES)
    with ledger.session() as session:
        assert named_on(session, CASE) == frozenset({"gro.government"})
        assert named_on(session, "MPDDHP-2026-0001") == frozenset()
    [outcome] = record_batch(ledger, [stream.deliver(lifted)], later, b.RULES)
    assert outcome.result is Result.RECORDED
    with ledger.session() as session:
        [row] = session.exec(select(PresumedAggressorRow)).all()
        assert named_on(session, CASE) == frozenset()
    assert (row.case_ref, row.agency, row.set_by, row.set_by_role) == (
        CASE,
        "gro.government",
        "fed.mechanism",
        ROLE,
    )
    assert (row.set_at, row.set_message_id) == (NOW, named.id)
    assert (row.lifted_at, row.lifted_by_role, row.lifted_message_id) == (later, ROLE, lifted.id)


def test_lifting_what_is_not_named_is_a_dead_letter(ledger: Any) -> None:
    stream = Stream()
    batch = [stream.deliver(flag("gro.government", lift=True)), stream.deliver(flag("fed.board"))]
    outcomes = record_batch(ledger, batch, NOW, b.RULES)
    assert [o.reason for o in outcomes] == [
        RejectionReason.ILLEGAL_TRANSITION,
        RejectionReason.ILLEGAL_TRANSITION,
    ]


def test_a_follow_up_to_a_flagged_agency_is_refused_and_the_sending_path_sees_it(
    ledger: Any,
) -> None:
    stream = Stream()
    request = b.patrol_request()
    record_batch(ledger, [stream.deliver(request)], NOW, b.RULES)
    # named after the request: the recall (no subject: its case is its request's) is refused
    recall = b.recall(request.id)
    outcomes = record_batch(
        ledger, [stream.deliver(flag("gro.government")), stream.deliver(recall)], NOW, b.RULES
    )
    assert [o.result for o in outcomes] == [Result.RECORDED, Result.DEAD_LETTER]
    assert outcomes[1].reason is RejectionReason.PRESUMED_AGGRESSOR
    with ledger.session() as session:
        assert barred_recipients(session, recall, b.REGISTRY) == (CASE, ("gro.government",))
        other = b.investigation_request()
        assert barred_recipients(session, other, b.REGISTRY) == (CASE, ())
        [dead] = session.exec(select(DeadLetterRow)).all()
    assert dead.reason == "presumed_aggressor"


PERSON = {"full_name": "Periodista P. Ejemplo", "address": "Domicilio 1"}


async def test_the_bridge_shows_a_flagged_agency_what_it_had_without_the_details(
    ledger: Any, tmp_path: Any
) -> None:
    from adapters.bridge.app import create_app
    from adapters.bridge.store import BridgeStore
    from tests.test_bridge import Recorder, client_for

    stream = Stream()
    data = {**b.patrol_request().data.model_dump(), "personal": PERSON}
    before = b.patrol_request(data=data)
    other_case = b.patrol_request(subject="MPDDHP-2026-0388", data=data)
    record_batch(ledger, [stream.deliver(before), stream.deliver(other_case)], NOW, b.RULES)
    # recorded after the flag's time (the hub refuses any such request; a clock set back
    # between the two is the only way to have one): not shown
    dated_later = b.patrol_request(at=NOW)
    record_batch(ledger, [stream.deliver(dated_later)], NOW + timedelta(hours=2), b.RULES)
    store = BridgeStore(tmp_path / "creds")
    app = create_app(ledger, store, Recorder())
    async with client_for(app, store.issue_token("gro.government")) as http:
        shown = (await http.get(f"/v1/requests/{before.id}")).json()
        assert shown["request"]["data"]["personal"]["full_name"] == PERSON["full_name"]
        record_batch(ledger, [stream.deliver(flag("gro.government"))], NOW, b.RULES)

        listed = [row["request_id"] for row in (await http.get("/v1/requests")).json()]
        assert set(listed) == {before.id, other_case.id}  # what it owes from before
        shown = (await http.get(f"/v1/requests/{before.id}")).json()
        assert not shown["request"]["data"].get("personal")
        assert PERSON["full_name"] not in json.dumps(shown)
        assert (await http.get(f"/v1/requests/{dated_later.id}")).status_code == 404
        # another case: unchanged
        shown = (await http.get(f"/v1/requests/{other_case.id}")).json()
        assert shown["request"]["data"]["personal"]["full_name"] == PERSON["full_name"]


def test_relocate_does_not_ask_a_shelter_named_on_the_case(tmp_path: Any) -> None:
    from datetime import UTC, date, datetime

    from adapters.settings import load_settings
    from schemas.capacity import CapacityUpdate
    from tests.cli_processes import invoke
    from tests.ledgers import home_ledger

    home, case, now = tmp_path / "home", "MPDDHP-2026-0415", datetime.now(UTC)
    ledger = home_ledger(load_settings(home=home))
    try:
        stream = Stream()
        reports = [
            CapacityUpdate(source=shelter, time=now, data=b.SHELTER_CAPACITY)
            for shelter in ("shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca")
        ]
        named = flag("shelter.casa-refugio-cdmx", case=case)
        record_batch(ledger, [stream.deliver(m) for m in (*reports, named)], now, b.RULES)
    finally:
        ledger.close()
    ask = ["relocate", "--case", case, "--people", "2", "--origin-state", "GRO"]
    ask += ["--earliest", date.today().isoformat(), "--days", "30"]
    asked = invoke(ask, home)
    said = " ".join(asked.stdout.split())
    assert asked.exit_code == 0, said
    barred = "no se consulta a shelter.casa-refugio-cdmx: presunta autoridad agresora"
    assert barred in said
    assert "se consulta a shelter.albergue-oaxaca" in said
    # named explicitly, it is refused before anything is kept or sent
    only = invoke([*ask, "--shelter", "shelter.casa-refugio-cdmx"], home)
    assert only.exit_code == 2 and "presumed aggressor" in " ".join(only.stdout.split())


def test_naming_and_lifting_count_from_their_place_in_the_batch(ledger: Any) -> None:
    stream = Stream()
    first, second = b.patrol_request(), b.patrol_request()
    batch = [
        stream.deliver(flag("gro.government")),
        stream.deliver(first),
        stream.deliver(flag("gro.government", lift=True)),
        stream.deliver(second),
    ]
    outcomes = record_batch(ledger, batch, NOW, b.RULES)
    assert [o.result for o in outcomes] == [
        Result.RECORDED,
        Result.DEAD_LETTER,
        Result.RECORDED,
        Result.RECORDED,
    ]
    with ledger.session() as session:
        assert named_on(session, CASE) == frozenset()
        assert len(session.exec(select(PresumedAggressorRow)).all()) == 1


async def test_the_outbox_relay_drops_what_was_kept_before_the_naming(ledger: Any) -> None:
    from adapters.ledger.outbox import Outbox
    from tests.fakes import MemoryBus

    outbox, bus = Outbox(ledger), MemoryBus()
    kept, other = b.patrol_request(), b.investigation_request()
    outbox.put(kept)  # NATS was away
    outbox.put(other)
    record_batch(ledger, [Stream().deliver(flag("gro.government"))], NOW, b.RULES)
    assert await outbox.relay(bus) == 1  # the prosecutor's request only
    assert outbox.waiting() == []
    assert bus.subjects() == ["mech.v1.to.gro.prosecutor.investigation"]

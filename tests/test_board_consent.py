"""The beneficiary's consent to invite authorities to the Board, on both ledgers and on a
secured bus: recorded, looked up by the hub for every summons, and the agenda built from it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from adapters.ledger.obligations import SqlObligations
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import BoardConsentRow, DeadLetterRow, MessageRow
from adapters.natsserver.credentials import CredentialStore
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.readmodel.board import agenda
from adapters.service.scenario import Scenario, ScenarioError
from bus.domain.board import BoardPlan, BoardSession, Consent
from bus.domain.ladder import Obligation, fire_now, rung_message
from bus.domain.policy import Clock, Policy
from bus.domain.recording import Result, record_batch
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.envelope import Envelope, Urgency
from schemas.registry import active_registry
from schemas.tracking import BoardSessionScheduled, EscalationLevel, Rejected, RejectionReason
from tests import builders as b
from tests.ledger_reads import credentials
from tests.test_recording import Stream

CASE = "MPDDHP-2026-0412"
DAY = timedelta(days=1)
CUTOFF = Policy.load().board_cutoff()


def test_consent_is_recorded_and_the_latest_is_in_force(ledger: SqlLedger) -> None:
    stream = Stream()
    batch = [
        stream.deliver(b.board_consent(CASE, agencies=("gro.commission",))),
        stream.deliver(b.board_summons("gro.commission", case=CASE)),  # same batch: it sees it
        stream.deliver(b.board_consent(CASE, given=False, at=b.T0 + DAY)),
        stream.deliver(b.board_summons("gro.commission", case=CASE, at=b.T0 + DAY)),
    ]
    outcomes = record_batch(ledger, batch, b.T0 + DAY, b.RULES)
    assert [o.result for o in outcomes] == [Result.RECORDED] * 3 + [Result.DEAD_LETTER]
    assert outcomes[3].reason is RejectionReason.NO_CONSENT
    notice = outcomes[3].notice
    assert isinstance(notice, Rejected) and notice.recipients == ("fed.mechanism",)
    assert f"case {CASE}" in notice.data.detail and "gro.commission" in notice.data.detail
    with ledger.session() as s:
        rows = s.exec(select(BoardConsentRow).order_by(col(BoardConsentRow.id))).all()
    assert [(r.case_ref, r.given, r.agencies, r.recorded_by) for r in rows] == [
        (CASE, True, "gro.commission", "Unidad de Recepción de Casos"),
        (CASE, False, "", "Unidad de Recepción de Casos"),
    ]
    consents = SqlObligations(ledger).board_consents([CASE, "MPDDHP-2026-0001"])
    assert consents == {CASE: Consent(CASE, False)}


def test_a_summons_of_an_authority_the_consent_does_not_cover_is_refused(
    ledger: SqlLedger,
) -> None:
    stream = Stream()
    consent = b.board_consent(CASE, agencies=("gro.commission",))
    summons = b.board_summons("gro.government", case=CASE)
    batch = [stream.deliver(consent), stream.deliver(summons)]
    outcomes = record_batch(ledger, batch, b.T0, b.RULES)
    assert [o.reason for o in outcomes] == [None, RejectionReason.NO_CONSENT]
    with ledger.session() as s:
        [kept] = s.exec(select(DeadLetterRow)).all()
    assert kept.reason == "no_consent" and kept.sender == "fed.mechanism"


def _board_rung(
    obligation: Obligation, session: BoardSession, consents: dict[str, Consent]
) -> Envelope:
    """The Board rung as the sweeper sends it, 6 days before ``session``."""
    board = BoardPlan((session,), CUTOFF, consents)
    now = session.scheduled_at - 6 * DAY
    level = EscalationLevel.BOARD_AGENDA
    return rung_message(fire_now(obligation, level, now, board, active_registry()))


def test_the_agenda_carries_unresolved_items_over_and_drops_them_once_met(
    ledger: SqlLedger,
) -> None:
    stream = Stream()
    dec = BoardSession("JG-2026-03", b.T0 + 10 * DAY)
    apr = BoardSession("JG-2026-04", b.T0 + 40 * DAY)
    sessions = [
        BoardSessionScheduled(
            source="fed.board",
            time=b.T0,
            data={"session_id": s.session_id, "scheduled_at": s.scheduled_at, "venue": "SEGOB"},
        )
        for s in (dec, apr)
    ]
    request = b.patrol_request(subject=CASE)
    owed = Obligation(
        request.id,
        "gro.government",
        Clock.ACKNOWLEDGEMENT,
        b.T0,
        b.T0 + timedelta(hours=1),
        Urgency.URGENT,
        CASE,
    )
    rung = _board_rung(owed, dec, {CASE: Consent(CASE, True)})
    messages = [*sessions, b.board_consent(CASE), request, rung]
    outcomes = record_batch(ledger, [stream.deliver(m) for m in messages], b.T0 + 4 * DAY, b.RULES)
    assert all(o.result is Result.RECORDED for o in outcomes), outcomes

    with ledger.session() as s:
        [line] = agenda(s, b.T0 + 5 * DAY, CUTOFF, "JG-2026-03")  # before its session
        assert line.carried_from is None and line.consent and line.owed == "acknowledgement"
        assert line.institution == "Secretaría General de Gobierno del Estado de Guerrero"
        assert line.invited == "Titular de la " + line.institution and line.state == "Guerrero"
        assert line.overdue_hours == round((5 * DAY - timedelta(hours=1)).total_seconds() / 3600, 2)
        after = b.T0 + 11 * DAY  # December's session passed with it unresolved
        [carried] = agenda(s, after, CUTOFF, "JG-2026-04")
        assert (carried.session_id, carried.carried_from) == ("JG-2026-04", "JG-2026-03")
        assert [a.session_id for a in agenda(s, after, CUTOFF, "JG-2026-03")] == ["JG-2026-03"]

    record_batch(ledger, [stream.deliver(b.acknowledgement(request.id))], b.T0 + 12 * DAY, b.RULES)
    with ledger.session() as s:
        assert agenda(s, b.T0 + 13 * DAY, CUTOFF, "JG-2026-04") == []  # met: it dropped off
        assert agenda(s, b.T0 + 13 * DAY, CUTOFF) == []
        [history] = agenda(s, b.T0 + 13 * DAY, CUTOFF, "JG-2026-03")  # still its own session's
        assert history.overdue_hours is None


def test_a_scenario_summons_without_consent_is_refused_when_read() -> None:
    shipped = Scenario.default()
    assert [c.case for c in shipped.consents] == [CASE]  # the demo records it first
    text = (Path(__file__).parents[1] / "adapters/service/scenarios/default.toml").read_text()
    without = text.replace("[[board_consent]]", "[[not_a_consent]]")
    with pytest.raises(ScenarioError, match="no \\[\\[board_consent\\]\\] for case"):
        Scenario.parse(without, origin="without.toml")


# -- on a secured bus, with the Mechanism's own credentials ----------------------------------

AGENCIES = ("fed.mechanism", "gro.commission")


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return credentials(tmp_path / "creds", AGENCIES)


@pytest.fixture
def secure_server(tmp_path: Path, store: CredentialStore) -> Iterator[EmbeddedNatsServer]:
    with EmbeddedNatsServer(tmp_path / "nats", extra_config=store.server_config()) as server:
        yield server


@pytest.fixture
async def secured_hub(
    secure_server: EmbeddedNatsServer, store: CredentialStore, ledger: SqlLedger
) -> AsyncIterator[Hub]:
    hub = Hub(ledger, secure_server.url, creds=store.seed_path("fed.hub"), provision=AGENCIES)
    await hub.start()
    yield hub
    await hub.stop()


@pytest.mark.integration
async def test_a_raw_summons_without_consent_is_refused_and_its_sender_told(
    secure_server: EmbeddedNatsServer,
    store: CredentialStore,
    secured_hub: Hub,
    ledger: SqlLedger,
) -> None:
    inbox = "mech.v1.to.gro.commission.board_summons"
    async with await AgencyClient.connect(
        secure_server.url, "fed.mechanism", creds=store.seed_path("fed.mechanism")
    ) as mechanism:
        unconsented = b.board_summons("gro.commission", case=CASE)
        # published raw (nats-py's JetStream), past the sender's own check
        await mechanism.js.publish(inbox, unconsented.to_json(), stream="MECHBUS")
        notice = await mechanism.next_notice()
        assert isinstance(notice, Rejected)
        assert notice.data.reason is RejectionReason.NO_CONSENT
        assert notice.data.rejected_id == unconsented.id and "LPPDDHP art. 8" in notice.data.detail

        await mechanism.send(b.board_consent(CASE, agencies=("gro.commission",)))
        consented = b.board_summons("gro.commission", case=CASE)
        await mechanism.js.publish(inbox, consented.to_json(), stream="MECHBUS")

    def summons_recorded() -> bool:
        with ledger.session() as s:
            found = s.exec(
                select(MessageRow.message_id).where(
                    MessageRow.type == "mech.request.board_summons.v1"
                )
            ).all()
        return found == [consented.id]

    await secured_hub.wait_until(summons_recorded)
    with ledger.session() as s:
        [kept] = s.exec(select(DeadLetterRow)).all()
    assert (kept.reason, kept.message_id) == ("no_consent", unconsented.id)


def test_an_agenda_asked_for_a_session_never_scheduled_is_an_error_not_an_empty_table(
    tmp_path: Path,
) -> None:
    from adapters.settings import load_settings
    from tests.cli_processes import invoke
    from tests.ledgers import home_ledger

    home = tmp_path / "home"
    assert invoke(["db", "upgrade"], home).exit_code == 0
    ledger = home_ledger(load_settings(home=home))
    try:
        stream = Stream()
        data = {"session_id": "JG-2026-12", "scheduled_at": b.T0 + 8 * DAY, "venue": "CDMX"}
        scheduled = BoardSessionScheduled(source="fed.board", time=b.T0, data=data)
        [outcome] = record_batch(ledger, [stream.deliver(scheduled)], b.T0, b.RULES)
        assert outcome.result is Result.RECORDED
    finally:
        ledger.close()
    unknown = invoke(["board", "agenda", "--session", "JG-2099-01"], home)
    assert unknown.exit_code == 2, unknown.output
    said = " ".join(unknown.output.split())
    assert "no hay sesión de la Junta 'JG-2099-01' programada; programadas: JG-2026-12" in said
    assert invoke(["board", "agenda", "--session", "JG-2026-12", "--json"], home).exit_code == 0

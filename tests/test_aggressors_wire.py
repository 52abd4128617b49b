"""A presumed aggressor on the wire: `mechbus aggressor` against a real `mechbus up`, the flagged
agency and another agency of the case each a plain nats-py client with its own credentials
reading its own consumer. After the flag the flagged agency receives nothing of the case (the
command line refuses, the sweeper's authority notice goes to the Mechanism instead) while the
other agency still does; a raw publish by the Mechanism is kept as a dead letter and the
Mechanism is told."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import FetchTimeoutError
from sqlmodel import select

from adapters.ledger.aggressors import named_on
from adapters.ledger.tables import DeadLetterRow, EscalationRow, PresumedAggressorRow
from adapters.settings import load_settings
from bus.runtime.agency import AgencyClient
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.cli_processes import run, running_up
from tests.ledgers import home_ledger

pytestmark = pytest.mark.e2e

CASE, OTHER_CASE = "MPDDHP-2026-0412", "MPDDHP-2026-0388"
FLAGGED, OTHER = "gro.government", "gro.prosecutor"
ROLE = "Titular de la Coordinación Ejecutiva Nacional"
DEADLINE = 30.0


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """``mechbus up`` whose urgent acknowledgement clock is one second, swept often."""
    home = tmp_path / "home"
    shipped = (Path(__file__).parents[1] / "bus" / "data" / "policy.toml").read_text()
    policy = tmp_path / "policy.toml"
    policy.write_text(shipped.replace('urgent = "1h"', 'urgent = "1s"'))
    args = ("--policy", str(policy), "--sweep-interval", "0.2")
    with running_up(home, (FLAGGED, OTHER), args):
        yield home


class Inbox:
    """An agency's own consumer, read with its own seed, as an outside client would."""

    def __init__(self, nc: Any, sub: Any) -> None:
        self.nc, self.sub = nc, sub
        self.received: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, home: Path, agency: str) -> Inbox:
        url = (home / "nats.url").read_text(encoding="utf-8").strip()
        nc = await nats.connect(
            url,
            nkeys_seed=str(home / "creds" / f"{agency}.nk"),
            inbox_prefix=f"_INBOX.{agency}".encode(),
        )
        durable = "agency-" + agency.replace(".", "-")
        sub = await nc.jetstream().pull_subscribe_bind(
            durable, "MECHBUS", inbox_prefix=f"_INBOX.{agency}.".encode()
        )
        return cls(nc, sub)

    async def first_about(self, case: str) -> dict[str, Any]:
        """Read in stream order until a message about ``case`` arrives (all are kept)."""
        deadline = time.monotonic() + DEADLINE
        while not any(m.get("subject") == case for m in self.received):
            assert time.monotonic() < deadline, f"nothing about {case} arrived"
            try:
                batch = await self.sub.fetch(10, timeout=1.0)
            except (FetchTimeoutError, TimeoutError):
                continue
            for msg in batch:
                self.received.append(json.loads(msg.data))
                await msg.ack()
        return next(m for m in self.received if m.get("subject") == case)


def mechbus(home: Path, *args: str) -> Any:
    return asyncio.to_thread(run, list(args), home)


def ask(case: str, *to: str) -> list[str]:
    recipients = [arg for agency in to for arg in ("--to", agency)]
    return ["send", "information", *recipients, "--case", case, "--question", "¿Avances?"]


def read(home: Path, query: Any) -> Any:
    ledger = home_ledger(load_settings(home=home))
    try:
        with ledger.session() as session:
            return query(session)
    finally:
        ledger.close()


async def until(home: Path, query: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while not (found := await asyncio.to_thread(read, home, query)):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)
    return found


@pytest.mark.usefixtures("english_cli")  # the refusal's words below
async def test_a_flagged_agency_receives_nothing_of_the_case(home: Path) -> None:
    flagged, other = await Inbox.connect(home, FLAGGED), await Inbox.connect(home, OTHER)
    try:
        named = await mechbus(home, "aggressor", CASE, FLAGGED, "--role", ROLE)
        assert named.returncode == 0, named.stdout + named.stderr
        await until(home, lambda s: FLAGGED in named_on(s, CASE), "the flag was not recorded")
        [row] = await asyncio.to_thread(
            read, home, lambda s: s.exec(select(PresumedAggressorRow)).all()
        )
        assert (row.case_ref, row.agency, row.set_by, row.set_by_role) == (
            CASE,
            FLAGGED,
            "fed.mechanism",
            ROLE,
        )
        assert row.set_at is not None and row.lifted_at is None

        # refused at the sender, with the agency's name and what to do; nothing published
        for refused in (ask(CASE, FLAGGED), ask(CASE, OTHER, FLAGGED)):
            done = await mechbus(home, *refused)
            assert done.returncode == 2, done.stdout + done.stderr
            said = " ".join(done.stdout.split())
            assert "not published" in said and "presumed aggressor" in said
            assert "Secretaría General de Gobierno del Estado de Guerrero" in said
            assert "remove it from the recipients" in said

        # the other agency of the case still receives it; the flagged one's authority notice
        # (half again overdue) goes to the Mechanism instead
        urgent = await mechbus(home, *ask(CASE, OTHER), "--urgent")
        assert urgent.returncode == 0, urgent.stdout + urgent.stderr
        received = await other.first_about(CASE)
        assert received["recipients"] == [OTHER]
        notice = await until(
            home,
            lambda s: s.exec(
                select(EscalationRow).where(EscalationRow.level == "authority_notice")
            ).all(),
            "no authority notice fired",
        )
        assert [n.to_agency for n in notice] == ["fed.mechanism"]

        # the first thing of any case the flagged agency receives is a later one of another case
        later = await mechbus(home, *ask(OTHER_CASE, FLAGGED))
        assert later.returncode == 0, later.stdout + later.stderr
        first = await flagged.first_about(OTHER_CASE)
        assert flagged.received == [first]

        # a raw publish by the Mechanism, past its sending path: the hub refuses and tells it
        creds = home / "creds" / "fed.mechanism.nk"
        url = (home / "nats.url").read_text(encoding="utf-8").strip()
        async with await AgencyClient.connect(url, "fed.mechanism", creds=creds) as mechanism:
            raw = b.patrol_request(FLAGGED)
            await mechanism.send(raw)
            deadline = time.monotonic() + DEADLINE
            while not isinstance(notice := await mechanism.next_notice(), Rejected):
                assert time.monotonic() < deadline, "no rejected notice"
        assert notice.data.reason is RejectionReason.PRESUMED_AGGRESSOR
        assert notice.data.rejected_id == raw.id and FLAGGED in notice.data.detail
        dead = await until(
            home,
            lambda s: s.exec(select(DeadLetterRow).where(DeadLetterRow.message_id == raw.id)).all(),
            "no dead letter",
        )
        assert {d.reason for d in dead} == {"presumed_aggressor"}
    finally:
        await flagged.nc.close()
        await other.nc.close()

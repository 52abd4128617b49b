"""Email notices of escalation rungs, against a local aiosmtpd server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from adapters.bridge.notices import EmailNotifier, SmtpSettings
from adapters.bridge.store import BridgeStore
from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.ledger.tables import EscalationRow, NotificationAttemptRow, RequestRow
from tests.ledgers import upgraded_ledger
from tests.mailbox import Inbox, free_port, local_smtp

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with local_smtp() as server:
        yield server


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqlLedger]:
    ledger = upgraded_ledger(sqlite_url(tmp_path / "ledger.db"))
    with ledger.session() as s:
        s.add(
            RequestRow(
                request_id="req-1",
                type="mech.request.protection_measure.v1",
                source="fed.mechanism",
                case_ref="MPDDHP-2026-0412",
                urgency="urgent",
                sent_at=T0,
            )
        )
        for level, to in (("reminder", "gro.government"), ("board_agenda", "fed.board")):
            s.add(
                EscalationRow(
                    request_id="req-1",
                    agency="gro.government",
                    clock="acknowledgement",
                    level=level,
                    message_id=f"esc-{level}",
                    to_agency=to,
                    due_at=T0 + timedelta(hours=1),
                    fired_at=T0 + timedelta(hours=1),
                )
            )
        s.commit()
    yield ledger
    ledger.close()


def email_attempts(ledger: SqlLedger) -> list[tuple[str, str, str, bool]]:
    with ledger.session() as s:
        rows = s.exec(select(NotificationAttemptRow)).all()
        return [(r.message_id, r.agency, r.outcome, r.final) for r in rows]


async def test_rungs_mailed_once_without_personal_data(
    ledger: SqlLedger, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    store = BridgeStore(tmp_path / "creds")
    store.set_email("gro.government", "enlace@gro.example.mx")
    notifier = EmailNotifier(
        ledger,
        store,
        SmtpSettings("127.0.0.1", port, "mechbus@segob.example.mx"),
        link_base="https://bridge.example.mx",
    )
    assert await notifier.send_due() == 1
    assert await notifier.send_due() == 0  # once per rung and address
    [(recipients, mail)] = inbox.mails
    assert recipients == ["enlace@gro.example.mx"]
    assert "MPDDHP-2026-0412" in mail["Subject"]
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    for expected in (
        "MPDDHP-2026-0412",
        "req-1",
        "reminder",
        "2026-03-02 16:00 UTC",
        "https://bridge.example.mx/v1/requests/req-1",
    ):
        assert expected in text
    # the fields of data.personal never appear (nothing of the request's body is read)
    for personal in ("full_name", "address", "phone", "coordinates"):
        assert personal not in text
    assert email_attempts(ledger) == [("esc-reminder", "gro.government", "sent", True)]


async def test_a_refusing_server_is_recorded_and_retried(ledger: SqlLedger, tmp_path: Path) -> None:
    store = BridgeStore(tmp_path / "creds")
    store.set_email("gro.government", "enlace@gro.example.mx")
    notifier = EmailNotifier(
        ledger, store, SmtpSettings("127.0.0.1", free_port(), "m@x.mx", timeout=2), max_attempts=2
    )
    assert await notifier.send_due() == 0
    assert await notifier.send_due() == 0
    assert await notifier.send_due() == 0  # given up: not tried a third time
    outcomes = [(o, f) for _, _, o, f in email_attempts(ledger)]
    assert outcomes == [("failed", False), ("gave_up", True)]

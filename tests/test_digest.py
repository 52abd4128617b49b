"""The daily digest for federal staff, mailed to a local aiosmtpd server: what fell overdue and
climbed the ladder arrives with institutions and case numbers, never the people's details, and
only once a day (the command line, the scheduled task in ``mechbus up``, a restart)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as hour
from email.message import Message
from pathlib import Path

import pytest
from sqlmodel import select

from adapters import i18n
from adapters.bridge.notices import SmtpSettings
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import EscalationRow, NotificationAttemptRow
from adapters.service.digest import DailyDigest, DigestSettings, day_id, send_digest
from adapters.settings import load_settings
from bus.domain.policy import Policy
from bus.domain.recording import record_batch
from bus.domain.rules import Rules
from tests import builders as b
from tests.cli_processes import invoke, running_up
from tests.ledgers import home_ledger
from tests.mailbox import Inbox, local_smtp
from tests.test_recording import Stream

pytestmark = pytest.mark.integration

PERSON = {"full_name": "Periodista P. Ejemplo", "address": "Calle del Domicilio 14"}
CASE = "MPDDHP-2026-0412"
GUERRERO = "Secretaría General de Gobierno del Estado de Guerrero"
POLICY = Policy.load()
CUTOFF = POLICY.board_cutoff()
RULES = Rules(b.REGISTRY, POLICY)  # the shipped deadlines: one hour to acknowledge


def seed(ledger: SqlLedger, now: datetime) -> str:
    """An urgent request to Guerrero's government carrying a person's details, recorded three
    hours ago and never acknowledged (its one-hour clock ran out), with its reminder fired."""
    data = {**b.patrol_request().data.model_dump(), "personal": PERSON}
    request = b.patrol_request(at=now - timedelta(hours=3), data=data)
    record_batch(ledger, [Stream().deliver(request)], now - timedelta(hours=3), RULES)
    with ledger.session() as s:
        s.add(
            EscalationRow(
                request_id=request.id,
                agency="gro.government",
                clock="acknowledgement",
                level="reminder",
                message_id=f"esc-{request.id}",
                to_agency="gro.government",
                due_at=now - timedelta(hours=2),
                fired_at=now - timedelta(hours=1),
            )
        )
        s.commit()
    return request.id


def seeded_home(home: Path) -> str:
    ledger = home_ledger(load_settings(home=home))
    try:
        return seed(ledger, datetime.now(UTC))
    finally:
        ledger.close()


def texts(mail: Message) -> tuple[str, str]:
    """The plain text and the HTML of a digest."""
    found = {}
    for part in mail.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found["text/plain"], found["text/html"]


def assert_a_digest_of(mail: Message, request_id: str) -> None:
    plain, html = texts(mail)
    for body in (plain, html):
        assert CASE in body
        assert request_id[-8:] in body
        assert GUERRERO in body
        assert "Guerrero, vencidas: 1" in body  # the count per state
        assert "recordatorio a la autoridad" in body  # the rung it climbed
        # nothing of the request's body, so none of the person's details
        for personal in (*PERSON.values(), "Chilpancingo", "full_name"):
            assert personal not in body
    assert "Resumen diario" in str(mail["Subject"])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with local_smtp() as server:
        yield server


async def test_the_digest_goes_out_once_a_day_without_personal_data(
    ledger: SqlLedger, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    now = datetime.now(UTC)
    request_id = seed(ledger, now)
    chosen = DigestSettings(
        ("coordinacion@segob.example.mx", "junta@segob.example.mx"),
        SmtpSettings("127.0.0.1", port, "mechbus@segob.example.mx"),
    )
    assert await send_digest(ledger, chosen, now, CUTOFF)
    [(recipients, mail)] = inbox.mails
    assert recipients == list(chosen.recipients)
    assert_a_digest_of(mail, request_id)
    # later the same day, or after a restart (the ledger remembers): nothing more. "Later"
    # is halfway to Mexico City's next midnight, so a run in the day's last minutes stays on it.
    local = now.astimezone(i18n.ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), hour(0), i18n.ZONE)
    later = now + (midnight - now) / 2
    assert day_id(later) == day_id(now)
    assert not await send_digest(ledger, chosen, later, CUTOFF)
    assert len(inbox.mails) == 1
    with ledger.session() as s:
        rows = s.exec(select(NotificationAttemptRow)).all()
    assert [(r.channel, r.message_id, r.outcome) for r in rows] == [("digest", day_id(now), "sent")]


async def test_the_daily_task_sends_at_its_hour_once_across_a_restart(
    ledger: SqlLedger, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    day = datetime(2026, 12, 1, tzinfo=i18n.ZONE)
    seed(ledger, (day + timedelta(hours=6)).astimezone(UTC))
    chosen = DigestSettings(
        ("coordinacion@segob.example.mx",), SmtpSettings("127.0.0.1", port, "m@segob.mx"), hour(7)
    )
    task = DailyDigest(ledger, chosen, CUTOFF)
    assert not await task.look(day + timedelta(hours=6, minutes=59))  # before 07:00: nothing
    assert inbox.mails == []
    assert await task.look(day + timedelta(hours=7, minutes=1))
    restarted = DailyDigest(ledger, chosen, CUTOFF)  # `up` restarted the same morning
    assert not await restarted.look(day + timedelta(hours=9))
    assert len(inbox.mails) == 1
    assert await restarted.look(day + timedelta(days=1, hours=7))  # the next day's
    assert len(inbox.mails) == 2


def test_mechbus_digest_sends_once_and_says_so(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    home = tmp_path / "home"
    request_id = seeded_home(home)
    server = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port)]

    shown = invoke(["digest", "--to", "ana@segob.example.mx", "--dry-run", *server], home)
    assert shown.exit_code == 0, shown.output
    assert CASE in shown.output and GUERRERO in shown.output
    assert PERSON["full_name"] not in shown.output
    assert inbox.mails == []  # a dry run sends nothing

    wrong = invoke(["digest", "--to", "ana-at-segob", *server], home)
    assert wrong.exit_code == 2
    assert "no es una dirección de correo electrónico" in wrong.output

    sent = invoke(["digest", "--to", "ana@segob.example.mx", *server], home)
    assert sent.exit_code == 0, sent.output
    assert "Resumen enviado a ana@segob.example.mx" in sent.output
    [(_, mail)] = inbox.mails
    assert_a_digest_of(mail, request_id)

    again = invoke(["digest", "--to", "ana@segob.example.mx", *server], home)
    assert again.exit_code == 0, again.output
    assert "ya se envió" in again.output
    assert len(inbox.mails) == 1

    english = invoke(["--lang", "en", "digest", "--to", "a@b.mx", "--dry-run", *server], home)
    assert "Daily digest" in english.output and "Became overdue" in english.output


@pytest.mark.e2e
def test_mechbus_up_mails_the_digest_at_its_hour(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    home = tmp_path / "home"
    request_id = seeded_home(home)
    # 00:00 Mexico City: past already, so today's digest is due at once
    args = ["--digest-to", "ana@segob.example.mx", "--digest-at", "00:00"]
    args += ["--smtp-host", "127.0.0.1", "--smtp-port", str(port)]
    with running_up(home, args=args):
        deadline = time.monotonic() + 30
        while not inbox.mails and time.monotonic() < deadline:
            time.sleep(0.1)  # polling another process's mail, with a deadline
        assert inbox.mails, "mechbus up sent no digest within 30 s"
    [(_, mail)] = inbox.mails
    assert_a_digest_of(mail, request_id)

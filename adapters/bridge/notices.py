"""Email notices: each rung of the escalation ladder (reminder at the deadline, notice to the
state's authority, Board agenda, monthly report) mailed to the agency it is addressed to, when
that agency registered an address (``mechbus creds email set``), by SMTP with aiosmtplib.

The ledger is the source: every rung the sweeper fired is a row of ``escalations``; each is
mailed once per address (``notification_attempts`` with channel ``email`` remembers), retried
on the next pass when the server refused it, given up after ``max_attempts``.

The body carries NO personal data: only the case reference, the request id, the agency that
owes the answer, which deadline and when it fell due, the rung, and where to look (the bridge's
``GET /v1/requests/<id>`` or the dashboard). Who is protected never leaves the bus by email.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib

from adapters.bridge.store import BridgeStore
from adapters.ledger.notifications import Attempt, record_attempt
from adapters.ledger.store import SqlLedger
from adapters.readmodel.agency import RungLine, rungs_to_mail
from adapters.readmodel.names import addressee, institution
from bus.domain.clock import utc_now
from bus.runtime import metrics

log = logging.getLogger("mechbus.notices")

RUNG_TITLES = {
    "reminder": "Recordatorio: plazo vencido / Reminder: deadline passed",
    "authority_notice": "Aviso a la autoridad superior / Notice to the highest authority",
    "board_agenda": "Inscrito en la Junta de Gobierno / Placed on the Governing Board's agenda",
    "monthly_report": "Informe mensual de corresponsabilidad / Monthly joint-responsibility report",
}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    start_tls: bool | None = None  # None: upgrade when the server offers it
    use_tls: bool = False
    timeout: float = 10.0


SEND_ERRORS = (aiosmtplib.SMTPException, OSError)  # a refusal or an unreachable server


async def send_mail(smtp: SmtpSettings, mail: EmailMessage) -> None:
    """Hand ``mail`` to the SMTP server (STARTTLS when offered); raises one of SEND_ERRORS.
    Counted here, where the notices and the daily digest both send."""
    try:
        await aiosmtplib.send(
            mail,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            start_tls=smtp.start_tls,
            use_tls=smtp.use_tls,
            timeout=smtp.timeout,
        )
    except SEND_ERRORS:
        metrics.EMAIL_ATTEMPTS.labels("failed").inc()
        raise
    metrics.EMAIL_ATTEMPTS.labels("sent").inc()


@dataclass(frozen=True)
class Notice(RungLine):
    """A rung, and the address of the agency it is addressed to."""

    address: str


def compose(notice: Notice, sender: str, link_base: str) -> EmailMessage:
    """The email: identifiers, a deadline and a rung; nothing about the people."""
    mail = EmailMessage()
    title = RUNG_TITLES.get(notice.level, notice.level)
    mail["Subject"] = f"[mechbus] {notice.case_ref or notice.request_id}: {title}"
    mail["From"] = sender
    mail["To"] = notice.address
    mail["Message-ID"] = f"<{notice.message_id}.{notice.to_agency}@mechbus>"
    link = f"{link_base.rstrip('/')}/v1/requests/{notice.request_id}" if link_base else None
    lines = [
        f"Para / To: {addressee(notice.to_agency)}",
        f"Expediente / Case reference: {notice.case_ref or '-'}",
        f"Solicitud / Request id: {notice.request_id}",
        f"Autoridad que debe responder / Agency that owes the answer: "
        f"{institution(notice.owing_agency)}",
        f"Plazo / Deadline: {notice.clock}, {notice.due_at:%Y-%m-%d %H:%M} UTC",
        f"Paso / Rung: {notice.level}",
    ]
    if notice.commitment_id:
        lines.append(f"Compromiso / Commitment: {notice.commitment_id}")
    lines += [
        "",
        "Consulte la solicitud en el bus (puente HTTP o su cliente) / "
        "See the request on the bus (HTTP bridge or your client):",
        link or "GET /v1/requests/<request id> on the mechbus HTTP bridge",
        "",
        "Este correo no contiene datos personales. / This email holds no personal data.",
    ]
    mail.set_content("\n".join(lines) + "\n")
    return mail


class EmailNotifier:
    def __init__(
        self,
        ledger: SqlLedger,
        store: BridgeStore,
        smtp: SmtpSettings,
        *,
        link_base: str = "",
        max_attempts: int = 5,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.smtp = smtp
        self.link_base = link_base
        self.max_attempts = max_attempts
        self.clock = clock

    def due(self, limit: int = 200) -> list[tuple[Notice, int]]:
        """Rungs addressed to an agency with an address, not yet mailed: (notice, attempt)."""
        addresses = self.store.emails()
        if not addresses:
            return []
        found = []
        for rung, attempt in rungs_to_mail(self.ledger, addresses, limit):
            address = addresses.get(rung.to_agency)
            if address is not None:
                found.append((Notice(**asdict(rung), address=address), attempt))
        return found

    async def send_due(self) -> int:
        """One pass: mail what is due; returns how many went out."""
        sent = 0
        for notice, attempt in await asyncio.to_thread(self.due):
            mail = compose(notice, self.smtp.sender, self.link_base)
            try:
                await send_mail(self.smtp, mail)
            except SEND_ERRORS as exc:
                final = attempt >= self.max_attempts
                outcome = "gave_up" if final else "failed"
                detail = f"{type(exc).__name__}: {exc}"[:200]
                await self._record(notice, attempt, outcome, final, detail)
                continue
            await self._record(notice, attempt, "sent", True, None)
            sent += 1
        return sent

    async def _record(
        self, notice: Notice, attempt: int, outcome: str, final: bool, detail: str | None
    ) -> None:
        row = Attempt(
            "email", notice.to_agency, notice.message_id, attempt, outcome, final, detail=detail
        )
        await asyncio.to_thread(record_attempt, self.ledger, row, self.clock())

    async def run(self, interval: float = 30.0, stopping: asyncio.Event | None = None) -> None:
        stop = stopping or asyncio.Event()
        while not stop.is_set():
            try:
                await self.send_due()
            except Exception as exc:  # a broken pass must not end the loop
                # its type only: a database error's text quotes the statement's parameters
                log.error("email notices: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

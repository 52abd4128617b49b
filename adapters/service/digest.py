"""The daily digest mailed to federal staff (plain text and simple HTML, Spanish by default):
``mechbus digest`` once, or ``mechbus up`` every day at the hour set, Mexico City time. Each
day's digest is a row of ``notification_attempts`` (channel ``digest``), so a restart or a
second run on the same day does not send it again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from html import escape

from adapters import i18n
from adapters.bridge.notices import SEND_ERRORS, SmtpSettings, send_mail
from adapters.i18n import _
from adapters.ledger.notifications import Attempt, record_attempt, was_sent
from adapters.ledger.store import SqlLedger
from adapters.readmodel.digest import Digest, DigestLine, daily_digest
from bus.domain.clock import utc_now
from bus.domain.federal import HUB

log = logging.getLogger("mechbus.digest")
CHANNEL = "digest"
DAY = timedelta(hours=24)
RUNGS = {
    "reminder": i18n.N_("reminder to the agency"),
    "authority_notice": i18n.N_("notice to the highest authority"),
    "board_agenda": i18n.N_("placed on the Board's agenda"),
    "monthly_report": i18n.N_("in the monthly report"),
    "acknowledgement": i18n.N_("acknowledgement"),
    "answer": i18n.N_("answer"),
}


@dataclass(frozen=True)
class DigestSettings:
    """Who receives the digest, through which server, at what hour (Mexico City), in which
    language."""

    recipients: tuple[str, ...]
    smtp: SmtpSettings
    at: time = time(7, 0)
    lang: str = i18n.DEFAULT


def day_id(now: datetime) -> str:
    """The digest's id: its day in Mexico City."""
    return f"digest-{now.astimezone(i18n.ZONE):%Y-%m-%d}"


def _short(request_id: str) -> str:
    return f"…{request_id[-8:]}"


def _line(line: DigestLine) -> str:
    where = f"{line.institution} ({line.state})" if line.state else line.institution
    what = _(RUNGS[line.what]) if line.what in RUNGS else line.what
    return _("%(case)s · request %(request)s · %(where)s · %(what)s · due %(due)s") % {
        "case": line.case_ref or "—",
        "request": _short(line.request_id),
        "where": where,
        "what": what,
        "due": i18n.local_time(line.due_at),
    }


def sections(digest: Digest) -> list[tuple[str, list[str] | None]]:
    """The digest's sections as (title, lines), in the current language (None: a title
    alone)."""
    counts = [
        _("%(state)s: %(count)d overdue") % {"state": state, "count": count}
        for state, count in digest.per_state()
    ]
    institutions = [
        _("%(institution)s: %(count)d overdue") % {"institution": name, "count": count}
        for name, count in digest.per_institution()
    ]
    board_title = (
        _("The Board's next session (%(session)s, %(when)s)")
        % {"session": digest.board_session, "when": i18n.local_time(digest.board_at)}
        if digest.board_session
        else _("The Board's next session (none scheduled)")
    )
    board = [
        _("%(case)s · request %(request)s · %(institution)s · owes %(owed)s")
        % {
            "case": item.case_ref or "—",
            "request": _short(item.request_id),
            "institution": item.institution,
            "owed": _(RUNGS[item.owed]) if item.owed in RUNGS else item.owed,
        }
        for item in digest.board
    ]
    return [
        (_("Became overdue in this period: %(count)d") % {"count": len(digest.overdue)}, None),
        (_("By state"), counts),
        (_("By institution"), institutions),
        (_("Became overdue"), [_line(line) for line in digest.overdue]),
        (_("Climbed a rung of the ladder"), [_line(line) for line in digest.climbed]),
        (board_title, board),
    ]


def compose(digest: Digest, sender: str, recipients: tuple[str, ...], lang: str) -> EmailMessage:
    """The email: identifiers, institutions, states and times; nothing about the people."""
    with i18n.speaking(lang):
        subject = _("[mechbus] Daily digest, %(day)s") % {
            "day": i18n.local_time(digest.until).split(",")[0]
        }
        intro = _("From %(since)s to %(until)s, Mexico City time.") % {
            "since": i18n.local_time(digest.since),
            "until": i18n.local_time(digest.until),
        }
        parts = sections(digest)
        nothing = _("Nothing.")
        footer = _("This email holds no personal data.")
    text = [intro, ""]
    html = [f"<p>{escape(intro)}</p>"]
    for title, lines in parts:
        if lines is None:
            text += [title, ""]
            html.append(f"<p><strong>{escape(title)}</strong></p>")
            continue
        text += [title, *(f"  - {line}" for line in lines or [nothing]), ""]
        html.append(f"<h2>{escape(title)}</h2>")
        if lines:
            html.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>")
    text.append(footer)
    html.append(f"<p><em>{escape(footer)}</em></p>")
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Message-ID"] = f"<{day_id(digest.until)}@mechbus>"
    mail.set_content("\n".join(text) + "\n")
    mail.add_alternative(
        f'<!doctype html><html lang="{lang}"><body>{"".join(html)}</body></html>', subtype="html"
    )
    return mail


def build(ledger: SqlLedger, now: datetime, since: datetime, cutoff: timedelta) -> Digest:
    with ledger.session() as session:
        return daily_digest(session, now, since, cutoff)


async def send_digest(
    ledger: SqlLedger,
    settings: DigestSettings,
    now: datetime,
    cutoff: timedelta,
    since: datetime | None = None,
) -> bool:
    """Mail the digest of the 24 hours before ``now`` unless today's went out already; True
    when it was sent now. A refusal is recorded and raised."""
    day = day_id(now)
    if await asyncio.to_thread(was_sent, ledger, CHANNEL, day):
        return False
    digest = await asyncio.to_thread(build, ledger, now, since or now - DAY, cutoff)
    mail = compose(digest, settings.smtp.sender, settings.recipients, settings.lang)
    try:
        await send_mail(settings.smtp, mail)
    except SEND_ERRORS as exc:
        detail = f"{type(exc).__name__}: {exc}"
        await asyncio.to_thread(
            record_attempt, ledger, Attempt(CHANNEL, HUB, day, 1, "failed", detail=detail), now
        )
        raise
    await asyncio.to_thread(
        record_attempt, ledger, Attempt(CHANNEL, HUB, day, 1, "sent", final=True), now
    )
    return True


class DailyDigest:
    """The digest sent once a day, at ``settings.at`` Mexico City time or at the first look
    after it (a service started at 09:00 sends that day's at once)."""

    def __init__(
        self,
        ledger: SqlLedger,
        settings: DigestSettings,
        cutoff: timedelta,
        *,
        interval: float = 60.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.cutoff = cutoff
        self.interval = interval
        self.clock = clock

    async def look(self, now: datetime) -> bool:
        """One look at ``now``: today's digest sent if its hour has come and it has not gone
        out yet (the ledger remembers across restarts); True when it was sent now."""
        if now.astimezone(i18n.ZONE).time() < self.settings.at:
            return False
        return await send_digest(self.ledger, self.settings, now, self.cutoff)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            now = self.clock()
            try:
                if await self.look(now):
                    log.info("daily digest %s sent", day_id(now))
            except Exception as exc:  # retried at the next look; the loop goes on
                log.error("daily digest: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval)

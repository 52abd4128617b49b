"""``mechbus digest``: mail federal staff the daily digest now; the SMTP and recipient options
that ``mechbus up`` also takes to send it every day."""

from __future__ import annotations

import re
from datetime import time
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import HomeOpt, LedgerOpt, PolicyOpt

if TYPE_CHECKING:
    from adapters.service.digest import DigestSettings
    from adapters.settings import Settings

SmtpHostOpt = Annotated[str, typer.Option(help="SMTP server that mails the digest.")]
SmtpPortOpt = Annotated[int, typer.Option(help="SMTP port.")]
SmtpFromOpt = Annotated[str, typer.Option(help="The digest's sender address.")]
SmtpUserOpt = Annotated[
    str | None, typer.Option(help="SMTP login; the password from $MECHBUS_SMTP_PASSWORD.")
]
_ADDRESS = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")


def recipients(value: str, option: str) -> tuple[str, ...]:
    """Comma-separated addresses; exit 2 naming any that is not one."""
    from adapters.i18n import _

    found = tuple(a.strip() for a in value.split(",") if a.strip())
    wrong = [a for a in found if not _ADDRESS.fullmatch(a)]
    if not found or wrong:
        shown = ", ".join(wrong) or repr(value)
        message = _("%(option)s: %(wrong)s is not an email address such as ana@segob.gob.mx")
        console.print(f"[red]{message % {'option': option, 'wrong': shown}}[/]")
        raise typer.Exit(2)
    return found


def hour(value: str, option: str) -> time:
    """HH:MM, Mexico City time; exit 2 saying so otherwise."""
    from adapters.i18n import _

    found = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", value)
    if found is None:
        message = _("%(option)s: %(value)r is not an hour such as 07:00 (Mexico City time)")
        console.print(f"[red]{message % {'option': option, 'value': value}}[/]")
        raise typer.Exit(2)
    return time(int(found.group(1)), int(found.group(2)))


def digest_settings(
    settings: Settings,
    to: tuple[str, ...],
    smtp_host: str,
    smtp_port: int,
    smtp_from: str,
    smtp_user: str | None,
    at: time = time(7, 0),
) -> DigestSettings:
    """The digest's settings from the options, in the command line's language."""
    from adapters import i18n
    from adapters.bridge.notices import SmtpSettings
    from adapters.service.digest import DigestSettings

    smtp = SmtpSettings(
        smtp_host, smtp_port, smtp_from, username=smtp_user, password=settings.smtp_password
    )
    return DigestSettings(to, smtp, at, i18n.current())


def digest(
    to: Annotated[str, typer.Option("--to", help="Recipients, comma-separated.")],
    since: Annotated[
        str | None,
        typer.Option(help="From when (ISO 8601 with its zone); default: the last 24 hours."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digest; send and record nothing.")
    ] = False,
    smtp_host: SmtpHostOpt = "localhost",
    smtp_port: SmtpPortOpt = 587,
    smtp_from: SmtpFromOpt = "mechbus@localhost",
    smtp_user: SmtpUserOpt = None,
    policy: PolicyOpt = None,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Mail federal staff the daily digest: what fell overdue, what climbed the ladder, what
    the Board's next session must see. No personal data. Once a day: a second run that day
    sends nothing."""
    import asyncio
    from datetime import UTC, datetime

    from adapters.bridge.notices import SEND_ERRORS
    from adapters.i18n import _
    from adapters.service import compose
    from adapters.service.digest import DAY, build, send_digest
    from adapters.service.digest import compose as compose_mail

    settings = common.settings(home, ledger_url=ledger_url)
    addresses = recipients(to, "--to")
    chosen = digest_settings(settings, addresses, smtp_host, smtp_port, smtp_from, smtp_user)
    now = datetime.now(UTC)
    start = common.aware_time(since, "--since") if since else now - DAY
    cutoff = common.policy(policy).board_cutoff()
    ledger = compose.open_ledger(settings)
    try:
        if dry_run:
            found = build(ledger, now, start, cutoff)
            mail = compose_mail(found, chosen.smtp.sender, chosen.recipients, chosen.lang)
            body = mail.get_body(("plain",))
            console.print(f"{mail['Subject']}\n", markup=False)
            console.print(body.get_content() if body else "", markup=False)
            return
        try:
            sent = asyncio.run(send_digest(ledger, chosen, now, cutoff, start))
        except SEND_ERRORS as exc:  # recorded; the next run tries again
            raise common.fail(exc, 1) from None
    finally:
        ledger.close()
    if sent:
        console.print(_("Digest sent to %s") % ", ".join(chosen.recipients))
    else:
        console.print(_("Today's digest was already sent; nothing sent."))

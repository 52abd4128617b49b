"""What the ``mechbus`` commands share: the console, loading the settings, reading the ledger,
showing rows, publishing, and saying what went wrong. Heavy modules are imported where they
are used, so that a command loads only what it needs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from adapters.cli.options import (
    AllOpt,
    CsvOpt,
    HomeOpt,
    JsonOpt,
    LedgerOpt,
    LimitOpt,
    OffsetOpt,
)
from adapters.i18n import _
from adapters.output import AnyColumn, choose, emit, make_console
from adapters.paging import PAGE_ROWS, Page

if TYPE_CHECKING:
    from pydantic import ValidationError
    from sqlmodel import Session

    from adapters.ledger.store import SqlLedger
    from adapters.observability.logs import LogFormat, LogLevel
    from adapters.settings import Settings
    from bus.domain.policy import Policy
    from schemas.envelope import Envelope

T = TypeVar("T")

console = make_console()


def settings(
    home: Path | None, nats_url: str | None = None, ledger_url: str | None = None
) -> Settings:
    from adapters.settings import SettingsError, load_settings

    try:
        return load_settings(home=home, nats_url=nats_url, ledger_url=ledger_url)
    except SettingsError as exc:  # e.g. a bad MECHBUS_DB_* value: say which, no traceback
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


@contextlib.contextmanager
def observed(
    service: str,
    trace: str | None,
    log_format: LogFormat | None = None,
    log_level: LogLevel | None = None,
) -> Iterator[None]:
    """Run as ``service`` with its logs (given a format) and traces set up once; what is
    traced is exported on the way out."""
    from adapters.environment import SettingsError
    from adapters.observability import logs, tracing

    if log_format is not None:
        logs.setup(log_format, log_level or logs.LogLevel.INFO)
    try:
        traced = tracing.setup(trace, service)
    except SettingsError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    try:
        yield
    finally:
        traced.shutdown()


def with_the_hub_stopped(
    home: Path | None, ledger_url: str | None, work: Callable[[SqlLedger, Session], T]
) -> T:
    """``work`` on the home's ledger in one committed session, holding the hub's lease so
    that no hub records meanwhile (its share would be missed or done twice); exit 1 naming
    the running hub otherwise."""
    from adapters.service import compose
    from adapters.settings import HubRunning

    ledger = compose.open_ledger(settings(home, ledger_url=ledger_url))
    try:
        with compose.lease(ledger), ledger.session() as session:
            done = work(ledger, session)
            session.commit()
    except HubRunning as exc:
        console.print(_("Stop the hub first (`mechbus up`): %(why)s") % {"why": exc}, markup=False)
        raise typer.Exit(1) from None
    finally:
        ledger.close()
    return done


def run(coro: object) -> None:
    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        said = _("interrupted; everything was stopped")
        console.print(f"[yellow]{said}[/]")
        raise typer.Exit(130) from None


def running_nats(chosen: Settings) -> str:
    """The URL of the NATS server this home runs (or was given); exit 2 if there is none."""
    url = chosen.running_nats_url()
    if url is None:
        said = _("no NATS server: start one with `mechbus up` or pass --nats-url")
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    return url


def policy(path: Path | None) -> Policy:
    from adapters import environment
    from bus.domain.policy import Policy, PolicyError

    try:
        return Policy.load(path) if path is not None else environment.policy()
    except PolicyError as exc:
        said = _("bad deadline policy: {problem}").format(problem=exc)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2) from None


def refuse(exc: ValidationError) -> typer.Exit:
    """Say what is wrong with the message, field by field, before anything is published."""
    for error in exc.errors(include_input=False, include_url=False):
        console.print(f"[red]{'.'.join(str(p) for p in error['loc'])}: {error['msg']}[/]")
    return typer.Exit(2)


@contextlib.contextmanager
def publishing(forceable: bool = False) -> Iterator[None]:
    """A publish's failures as the user reads them: no server, no consent for a Board summons or
    a recipient named presumed aggressor on the case, a request addressed against the rules or
    beyond the legal limit (exit 2; ``forceable``: say how to send that anyway), refused by the
    bus (exit 1)."""
    from adapters.i18n import _
    from adapters.service import actions
    from adapters.service.addressing import ImplementByRefused, MisaddressedRequest

    try:
        yield
    except (MisaddressedRequest, ImplementByRefused) as exc:
        console.print(_("Not sent: {why}").format(why=exc), style="red", markup=False)
        if forceable and getattr(exc, "overridable", True):
            hint = _('To send it anyway: --force --reason "WHY" (recorded with the request).')
            console.print(hint, markup=False)
        raise typer.Exit(2) from None
    except actions.NoServer as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    # refused before anything is sent: change and resend
    except (actions.NoConsent, actions.ToPresumedAggressor) as exc:
        said = _("not published: {reason}").format(reason=exc)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2) from None
    except actions.SendRefused as exc:
        said = _("not published: {reason}").format(reason=exc)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(1) from None


def publish(chosen: Settings, message: Envelope, *, forceable: bool = False) -> None:
    """Publish ``message`` (a federal one through the outbox: ``actions.publish``)."""
    from adapters.service import actions

    with publishing(forceable):
        sent = asyncio.run(actions.publish(chosen, message))
    if sent.kept_because is not None:
        said = _(
            "{why}: {type} {id} is kept in the outbox and will be published when NATS is back "
            "(`mechbus up` relays it; `mechbus outbox list` shows it)"
        )
        kept = said.format(why=sent.kept_because, type=message.type, id=message.id)
        console.print(f"[yellow]{kept}[/]")
    for ack in sent.acks:
        dup = _(" (duplicate: already on the bus)") if ack.duplicate else ""
        said = _("published {id} as stream seq {seq}").format(id=message.id, seq=ack.seq)
        console.print(f"{said}{dup}")


def page(limit: int, offset: int, every: bool) -> Page:
    return Page(None if every else limit, offset)


@contextlib.contextmanager
def reading(chosen: Settings) -> Iterator[SqlLedger]:
    """The home's ledger for a read, closed after; exit 1 saying where it looked when there is
    none (a read never creates one)."""
    from adapters.service import compose

    try:
        ledger = compose.open_ledger(chosen)
    except compose.NoLedger as exc:
        raise fail(exc, 1) from None
    try:
        yield ledger
    finally:
        ledger.close()


def query(chosen: Settings, read: Callable[[Session], T]) -> T:
    """Run one read against the ledger and close it."""
    with reading(chosen) as ledger, ledger.session() as session, checked():
        return read(session)


@contextlib.contextmanager
def checked(option: str | None = None) -> Iterator[None]:
    """What staff typed, resolved inside the block (``adapters.readmodel.references``): a
    value that names nothing exits 2 with what is valid, prefixed by ``option``."""
    from adapters.readmodel.references import UnknownReference

    try:
        yield
    except UnknownReference as exc:
        console.print(f"{option}: {exc}" if option else str(exc), style="red", markup=False)
        raise typer.Exit(2) from None


def show(
    rows: list[Any],
    columns: Sequence[AnyColumn],
    as_json: bool,
    as_csv: bool,
    title: str,
    caption: str | None = None,
    shown: Page | None = None,
) -> None:
    """``rows`` as fetched for the page ``shown`` (one more than it shows, when there are
    more)."""
    try:
        fmt = choose(as_json, as_csv)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    rows, cut = shown.cut(rows) if shown else (rows, False)
    more = shown.more(len(rows)) if shown and cut else None
    emit(rows, columns, fmt, console, title=title, caption=caption, more=more)


def aware_time(value: str | None, option: str) -> datetime:
    """An ISO 8601 time with its time zone from ``option`` (now when not given); exit 2 else."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        said = _("{option}: {value!r} is not an ISO 8601 date and time")
        console.print(f"[red]{said.format(option=option, value=value)}[/]")
        raise typer.Exit(2) from None
    if parsed.tzinfo is None:
        said = _("{option}: give a time zone, e.g. 2026-04-15T10:00-06:00")
        console.print(f"[red]{said.format(option=option)}[/]")
        raise typer.Exit(2)
    return parsed


def resolved(option: str, value: str | None, resolve: Callable[[str], str]) -> str | None:
    """``value`` as ``resolve`` (from ``adapters.readmodel.references``) reads it, or None when
    not given; exit 2 naming ``option`` and what is valid when it names nothing."""
    if value is None:
        return None
    with checked(option):
        return resolve(value)


def state_code(value: str, option: str) -> str:
    """The code of the state ``value`` names (its code or its name, any case, with or without
    accents); exit 2 listing the states with their codes otherwise."""
    from adapters.readmodel.references import state

    found = resolved(option, value, state)
    assert found is not None
    return found


def month_window(month: str | None) -> tuple[datetime | None, datetime]:
    """``(since, asof)`` for a scorecard: the month given (YYYY-MM, up to now), else all time."""
    from adapters.readmodel.report import month_bounds

    now = datetime.now(UTC)
    if not month:
        return None, now
    try:
        since, end = month_bounds(month)
    except ValueError as exc:
        raise fail(exc) from None
    return since, min(end, now)


def fail(exc: Exception, code: int = 2) -> typer.Exit:
    """Say ``exc`` in red; the exit to raise."""
    console.print(f"[red]{exc}[/]")
    return typer.Exit(code)


@dataclass(frozen=True)
class Listing:
    """How a list view was asked for: which page, in which format, from which ledger."""

    page: Page
    as_json: bool
    as_csv: bool
    home: Path | None
    ledger_url: str | None

    def settings(self) -> Settings:
        return settings(self.home, ledger_url=self.ledger_url)

    def query(self, read: Callable[[Session], T]) -> T:
        return query(self.settings(), read)

    def show(
        self, rows: list[Any], columns: Sequence[AnyColumn], title: str, caption: str | None = None
    ) -> None:
        show(rows, columns, self.as_json, self.as_csv, title, caption, self.page)


# The options of every list view, after its own, in this order (as its help shows them).
_LISTING = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=option)
    for name, option, default in (
        ("limit", LimitOpt, PAGE_ROWS),
        ("offset", OffsetOpt, 0),
        ("every", AllOpt, False),
        ("as_json", JsonOpt, False),
        ("as_csv", CsvOpt, False),
        ("home", HomeOpt, None),
        ("ledger_url", LedgerOpt, None),
    )
]


def listing(command: Callable[..., None]) -> Callable[..., None]:
    """A list view: ``command`` takes its own options and ``view``, a ``Listing`` made of the
    options every list view has (--limit, --offset, --all, --json, --csv, --home,
    --ledger-url), declared here once."""
    own = [
        p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "view"
    ]

    @functools.wraps(command)
    def view_of(
        *args: Any,
        limit: int,
        offset: int,
        every: bool,
        as_json: bool,
        as_csv: bool,
        home: Path | None,
        ledger_url: str | None,
        **kwargs: Any,
    ) -> None:
        try:  # the arguments are checked before any ledger is opened
            choose(as_json, as_csv)
        except ValueError as exc:
            raise fail(exc) from None
        view = Listing(page(limit, offset, every), as_json, as_csv, home, ledger_url)
        command(*args, view=view, **kwargs)

    view_of.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*own, *_LISTING], return_annotation=None
    )
    return view_of

"""Languages (Babel catalogues, Spanish by default), times in Mexico City, plain durations.

One catalogue for the dashboard and the command line: message ids are English, ``es`` is the
Spanish catalogue (``locale/``). The dashboard renders each request in its session's language;
the command line speaks the language of ``--lang`` or ``MECHBUS_LANG`` (``use``)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("es", "en")  # msgids are English; Spanish is the catalogue and the default
DEFAULT = "es"
ZONE = ZoneInfo("America/Mexico_City")


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


@cache
def translations(lang: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [lang], domain="messages")


_current: contextvars.ContextVar[str] = contextvars.ContextVar("lang", default=DEFAULT)


def pick(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


def use(lang: str) -> None:
    """Speak ``lang`` from here on in this context (the command line, once per run)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    _current.set(lang)


def current() -> str:
    return _current.get()


@contextmanager
def speaking(lang: str) -> Iterator[NullTranslations]:
    """Render in ``lang``: templates' gettext reads it from this context variable, so two
    requests rendering at once in different languages never see each other's."""
    token = _current.set(pick(lang))
    try:
        yield translations(_current.get())
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


_ = gettext  # the usual name in the modules that speak to people


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def local_time(value: datetime | None, lang: str | None = None) -> str:
    """A time as staff read it: Mexico City, in the page's language (e.g. 3 dic 2026, 10:15)."""
    if value is None:
        return "—"
    from babel.dates import format_datetime  # loaded only where a time is shown

    return format_datetime(value, "medium", tzinfo=ZONE, locale=pick(lang or _current.get()))


def local_iso(value: datetime | None) -> str:
    """A time for CSV files: ISO 8601 in Mexico City with its offset (unambiguous)."""
    return value.astimezone(ZONE).isoformat(timespec="seconds") if value else ""


def hours_since(due: datetime) -> float:
    """Hours from ``due`` to now: positive when late."""
    return (datetime.now(UTC) - due).total_seconds() / 3600


def duration(hours: float, lang: str | None = None) -> str:
    """A length of time in words ("3 horas", "2 días"), rounded as people say it."""
    from babel.dates import format_timedelta

    return format_timedelta(
        timedelta(hours=abs(hours)), threshold=1.5, locale=pick(lang or _current.get())
    )

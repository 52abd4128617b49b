"""The ``MECHBUS_*`` environment variables: read here and nowhere else, each as a typed value,
refused with a message naming the variable when mechbus cannot use it."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bus.domain.errors import ConfigurationError

if TYPE_CHECKING:  # the ledger, the registry and the policy load only when asked for
    from adapters.ledger.store import PoolOptions
    from bus.domain.policy import Policy
    from schemas.registry import AgencyRegistry

HOME = "MECHBUS_HOME"
LEDGER_URL = "MECHBUS_LEDGER_URL"
NATS_URL = "MECHBUS_NATS_URL"
LISTEN = "MECHBUS_LISTEN"
RETENTION_DAYS = "MECHBUS_RETENTION_DAYS"
STORE_KEY = "MECHBUS_STORE_KEY"  # also how the key reaches nats-server (adapters.natsserver)
LEDGER_KEY = "MECHBUS_LEDGER_KEY"
SMTP_PASSWORD = "MECHBUS_SMTP_PASSWORD"
DASHBOARD_SECRET = "MECHBUS_DASHBOARD_SECRET"
AGENCIES = "MECHBUS_AGENCIES"  # a deployment's own agency registry (TOML)
POLICY = "MECHBUS_POLICY"  # a deployment's own deadline policy (TOML)
OFFICERS = "MECHBUS_OFFICERS"  # the Mechanism's staff count, for the caseload projection
LANG = "MECHBUS_LANG"  # the command line's language: es (the default) or en
LANGUAGES = ("es", "en")
TRACE = "MECHBUS_TRACE"  # OpenTelemetry traces: off (the default), console or otlp
TRACE_MODES = ("off", "console", "otlp")

# nats-server reads the key as a config value: a leading letter keeps it a string.
_STORE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{31,}")


class SettingsError(ConfigurationError, ValueError):
    """A setting from the environment that mechbus cannot use."""


def text(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    return environ.get(name) or None


def given(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The variable's value as set, even empty, or None when it is unset."""
    return environ.get(name)


def home(environ: Mapping[str, str] = os.environ) -> Path | None:
    given = text(HOME, environ)
    return Path(given) if given else None


def retention_days(environ: Mapping[str, str] = os.environ) -> float:
    """How long the stream keeps messages; 0: forever."""
    raw = environ.get(RETENTION_DAYS, "").strip()
    if not raw:
        return 0.0
    value = _number(raw)
    if math.isfinite(value) and value >= 0:
        return value
    raise SettingsError(f"{RETENTION_DAYS} must be a number of days, 0 for forever; got {raw!r}")


def language(given: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """The command line's language: ``--lang`` when given, else ``MECHBUS_LANG``, else es."""
    return _choice(
        "--lang",
        LANG,
        given,
        environ,
        LANGUAGES,
        "is not a language of mechbus; choose es (español) or en (English)",
    )


def trace(given: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """Where traces go: ``--trace`` when given, else ``MECHBUS_TRACE``, else off."""
    return _choice(
        "--trace",
        TRACE,
        given,
        environ,
        TRACE_MODES,
        "is not a way of tracing; choose off, console or otlp",
    )


def _choice(
    option: str,
    variable: str,
    given: str | None,
    environ: Mapping[str, str],
    valid: tuple[str, ...],
    refusal: str,
) -> str:
    """One of ``valid`` (the first when neither the option nor the variable says), or a
    refusal naming where the wrong value came from."""
    origin, raw = (option, given) if given else (variable, text(variable, environ))
    if raw is None:
        return valid[0]
    value = raw.strip().lower()
    if value in valid:
        return value
    raise SettingsError(f"{origin}: {raw!r} {refusal}")


def officers(environ: Mapping[str, str] = os.environ) -> int | None:
    """The staff count the caseload projection divides by; None when unset."""
    raw = environ.get(OFFICERS, "").strip()
    return _whole(environ, OFFICERS, 0, low=1) if raw else None


def pool_options(environ: Mapping[str, str] = os.environ) -> PoolOptions:
    """The ledger's connection pool: defaults, each overridable by an environment variable."""
    from adapters.ledger.store import PoolOptions

    default = PoolOptions()
    return PoolOptions(
        size=_whole(environ, "MECHBUS_DB_POOL_SIZE", default.size, low=1),
        # SQLAlchemy's -1 ("no limit") is refused: a burst could take all of the server's
        # max_connections from every other client.
        max_overflow=_whole(environ, "MECHBUS_DB_MAX_OVERFLOW", default.max_overflow, low=0),
        timeout=_seconds(environ, "MECHBUS_DB_POOL_TIMEOUT", default.timeout),
        recycle=_whole(environ, "MECHBUS_DB_POOL_RECYCLE", default.recycle, low=1, never=True),
    )


def registry(environ: Mapping[str, str] = os.environ) -> AgencyRegistry:
    """The deployment's agency registry: the file ``MECHBUS_AGENCIES`` names, else the default.

    The contract and the domain never read the environment; whoever runs a process asks here
    and installs the answer (``schemas.registry.use_registry``) or passes it down.
    """
    from schemas.registry import AgencyRegistry

    return AgencyRegistry.load(_file(AGENCIES, environ))


def install_registry(environ: Mapping[str, str] = os.environ) -> None:
    """Install the deployment's registry when ``MECHBUS_AGENCIES`` names one; otherwise the
    shipped registry is loaded on first use (so a command that validates nothing never loads it).
    """
    if _file(AGENCIES, environ) is not None:
        from schemas.registry import use_registry

        use_registry(registry(environ))


def agencies_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The deployment's registry file, handed on to the processes mechbus starts."""
    return _file(AGENCIES, environ)


def policy(environ: Mapping[str, str] = os.environ) -> Policy:
    """The deployment's deadline policy: the file ``MECHBUS_POLICY`` names, else the default."""
    from bus.domain.policy import Policy

    return Policy.load(_file(POLICY, environ))


def _file(name: str, environ: Mapping[str, str]) -> Path | None:
    value = text(name, environ)
    return Path(value) if value else None


def store_key(environ: Mapping[str, str] = os.environ) -> str | None:
    """The key that encrypts the JetStream store, as given (checked where it is used:
    ``checked_store_key``), or None."""
    return environ.get(STORE_KEY, "").strip() or None


def checked_store_key(key: str, origin: str) -> str:
    """``key`` if nats-server can use it as the store's key, else ``SettingsError``."""
    if not _STORE_KEY.fullmatch(key):
        raise SettingsError(
            f"the stream store key in {origin} must be at least 32 letters, digits, '-' or '_', "
            "starting with a letter"
        )
    return key


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _whole(
    environ: Mapping[str, str], name: str, default: int, *, low: int, never: bool = False
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value: int | None = int(raw)
    except ValueError:
        value = None
    if value is not None and (value >= low or (never and value == -1)):
        return value
    wanted = f"a whole number of at least {low}" + (" (or -1: never)" if never else "")
    raise SettingsError(f"{name} must be {wanted}; got {raw!r}")


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    value = _number(raw)
    if math.isfinite(value) and value > 0:
        return value
    raise SettingsError(f"{name} must be a number of seconds greater than 0; got {raw!r}")

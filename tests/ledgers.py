"""Ledgers for tests, made or brought to the newest schema explicitly: opening a ledger never
migrates it (only `mechbus db upgrade`, `up` and the demo do), so a test that wants a fresh
ledger says so here."""

from __future__ import annotations

from typing import Any

from adapters.ledger.store import SqlLedger
from adapters.service import compose
from adapters.settings import Settings


def upgraded_ledger(url: str, **options: Any) -> SqlLedger:
    """The ledger at ``url``, its schema created or upgraded first."""
    return SqlLedger(url, migrate=True, **options)


def home_ledger(settings: Settings) -> SqlLedger:
    """The ledger of ``settings``' home (with its sealing key), created or upgraded first."""
    return compose.open_ledger(settings, migrate=True)

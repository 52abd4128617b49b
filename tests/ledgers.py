"""Ledgers for tests, made or brought to the newest schema explicitly: opening a ledger never
migrates it (only `mechbus db upgrade`, `up` and the demo do), so a test that wants a fresh
ledger says so here."""

from __future__ import annotations

from pathlib import Path
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


def outbox_messages(home: Path) -> list[Any]:
    """What `mechbus send` kept in the outbox of ``home`` (no NATS server was running)."""
    from adapters.ledger.outbox import Outbox
    from adapters.settings import load_settings

    ledger = home_ledger(load_settings(home=home))
    try:
        return Outbox(ledger)._next(100)
    finally:
        ledger.close()


def record_outbox(home: Path, rules: Any = None) -> None:
    """Record what waits in the outbox of ``home`` as the hub would, in order, and mark it
    published: the ledger then holds it as if `mechbus up` had relayed it. ``rules``: the
    hub's (default: the shipped registry without deadlines)."""
    from datetime import UTC, datetime

    from adapters.ledger.outbox import Outbox
    from adapters.settings import load_settings
    from bus.domain import subjects
    from bus.domain.ports import Delivery
    from bus.domain.recording import Result, record_batch
    from tests import builders as b

    messages = outbox_messages(home)
    ledger = home_ledger(load_settings(home=home))
    try:
        batch = [
            Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), seq)
            for seq, m in enumerate(messages, _last_seq(ledger) + 1)
        ]
        outcomes = record_batch(ledger, batch, datetime.now(UTC), rules or b.RULES)
        assert all(o.result is Result.RECORDED for o in outcomes), outcomes
        for message in messages:
            Outbox(ledger).published(message.id)
    finally:
        ledger.close()


def _last_seq(ledger: SqlLedger) -> int:
    from sqlmodel import func, select

    from adapters.ledger.tables import MessageRow

    with ledger.session() as session:
        return session.exec(select(func.max(MessageRow.stream_seq))).one() or 0

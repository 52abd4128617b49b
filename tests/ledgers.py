"""Ledgers for tests, made or brought to the newest schema explicitly: opening a ledger never
migrates it (only `mechbus db upgrade`, `up` and the demo do), so a test that wants a fresh
ledger says so here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import MessageRow
from adapters.service import compose
from adapters.settings import Settings
from bus.domain import subjects
from bus.domain.policy import Policy
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from bus.domain.rules import Rules
from schemas.envelope import Envelope
from tests import builders as b


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
    from adapters.ledger.outbox import Outbox
    from adapters.settings import load_settings

    settings = load_settings(home=home)
    messages = outbox_messages(home)
    record(settings, messages, rules=rules or b.RULES)
    ledger = home_ledger(settings)
    try:
        for message in messages:
            Outbox(ledger).published(message.id)
    finally:
        ledger.close()


def record(
    settings: Settings, messages: list[Envelope], at: datetime | None = None, rules: Any = None
) -> None:
    """Record messages as the hub would (stored ``at``, under ``rules``: by default the shipped
    registry and policy), at stream sequences after the ledger's last."""
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:  # the next stream sequences after the ledger's last
            last = session.exec(select(func.max(MessageRow.stream_seq))).one() or 0
        deliveries = [
            Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), last + 1 + i)
            for i, m in enumerate(messages)
        ]
        outcomes = record_batch(
            ledger, deliveries, at or datetime.now(UTC), rules or Rules(b.REGISTRY, Policy.load())
        )
        assert all(o.result.value == "recorded" for o in outcomes), outcomes
    finally:
        ledger.close()

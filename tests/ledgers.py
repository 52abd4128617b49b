"""Ledgers for tests, made or brought to the newest schema explicitly: opening a ledger never
migrates it (only `mechbus db upgrade`, `up` and the demo do), so a test that wants a fresh
ledger says so here."""

from __future__ import annotations

from datetime import UTC, datetime
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


def record(settings: Settings, messages: list[Envelope], at: datetime | None = None) -> None:
    """Record messages as the hub would (stored ``at``), at stream sequences after the
    ledger's last."""
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            last = session.exec(select(func.max(MessageRow.stream_seq))).one() or 0
        deliveries = [
            Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), last + 1 + i)
            for i, m in enumerate(messages)
        ]
        outcomes = record_batch(
            ledger, deliveries, at or datetime.now(UTC), Rules(b.REGISTRY, Policy.load())
        )
        assert all(o.result.value == "recorded" for o in outcomes), outcomes
    finally:
        ledger.close()

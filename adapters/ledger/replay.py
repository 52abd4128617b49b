"""Replay: rebuild a ledger from the stream into an empty database, and compare two ledgers.

The stream is the transport and keeps everything; the ledger is what the hub made of it. The
hub records each message at the moment the stream stored it, so running the same recording
over the same stream, in stream order, gives the same ledger: this is how a lost or doubted
ledger is rebuilt, and how the live one is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, MessageRow
from bus.domain import subjects
from bus.domain.errors import LedgerError
from bus.domain.permissions import HUB
from bus.domain.policy import Policy
from bus.domain.ports import Delivery
from bus.domain.recording import Result, record_batch
from bus.domain.rules import Rules
from bus.domain.streams import REPLAY_CONSUMER, StreamSpec
from schemas.registry import active_registry

# Columns that depend on the order the live hub happened to record in (its own sequence
# numbers, and the chain over that order) or on a random nonce (sealed columns, compared
# opened instead): the rest must be equal, row for row.
ORDER_COLUMNS = frozenset({"id", "seq", "prev_hash", "row_hash"})
# Tables that are not made from the stream: what a sender kept before publishing, and which
# hub holds the ledger's lease.
NOT_FROM_THE_STREAM = frozenset({"outbox", "hub_lease"})


class ReplayError(LedgerError, RuntimeError):
    """The replay cannot give a faithful ledger (target not empty, stream incomplete)."""


@dataclass
class ReplayReport:
    first_seq: int = 0
    last_seq: int = 0
    read: int = 0
    results: Counter[str] = field(default_factory=Counter)


async def replay(
    js: JetStreamContext,
    target: SqlLedger,
    *,
    stream: StreamSpec | None = None,
    policy: Policy | None = None,
    batch: int = 1000,
    fetch_timeout: float = 5.0,
    progress: Callable[[ReplayReport], None] | None = None,
    after_seq: int = 0,
) -> ReplayReport:
    """Record every message the stream holds now, in order, into the empty ledger ``target``;
    with ``after_seq``, only those after it, into a ledger that holds the rest (a restored
    backup catching up with its stream).

    Nothing is published: the ``rejected`` notices and escalations the live hub sent are in
    the stream already, and are recorded from there like everything else.
    """
    spec = stream or StreamSpec()
    # the hub's default policy (the deadlines come from it), the process's registry
    rules = Rules(active_registry(), policy or Policy.load())
    if not after_seq and (target.count(MessageRow) or target.count(DeadLetterRow)):
        raise ReplayError(f"the target ledger {target.engine.url!r} is not empty")
    state = (await js.stream_info(spec.name)).state
    report = ReplayReport(first_seq=state.first_seq, last_seq=state.last_seq)
    if state.messages and state.first_seq > after_seq + 1:
        raise ReplayError(
            f"stream {spec.name} no longer holds sequences {after_seq + 1} to "
            f"{state.first_seq - 1}; "
            "a ledger rebuilt from it would be incomplete"
        )
    if state.last_seq <= after_seq:
        return report
    with contextlib.suppress(NotFoundError):  # left over from a replay that was interrupted
        await js.delete_consumer(spec.name, REPLAY_CONSUMER)
    await js.add_consumer(
        spec.name,
        api.ConsumerConfig(
            name=REPLAY_CONSUMER,
            durable_name=REPLAY_CONSUMER,
            filter_subjects=list(spec.subjects),
            **_from(after_seq),
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=300.0,  # the server removes it if this process dies
        ),
    )
    sub = await js.pull_subscribe_bind(
        REPLAY_CONSUMER, spec.name, inbox_prefix=subjects.deliver_prefix(HUB).encode()
    )
    try:
        seq = 0
        while seq < state.last_seq:
            messages = await sub.fetch(batch, timeout=fetch_timeout)
            deliveries = [
                Delivery(
                    m.subject,
                    m.data,
                    m.metadata.sequence.stream,
                    stored_at=m.metadata.timestamp,
                )
                for m in messages
                if m.metadata.sequence.stream <= state.last_seq
            ]
            if not deliveries:
                break
            outcomes = await asyncio.to_thread(record_batch, target, deliveries, None, rules)
            report.read += len(deliveries)
            report.results.update(o.result.value for o in outcomes)
            seq = deliveries[-1].stream_seq
            if progress is not None:
                progress(report)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(spec.name, REPLAY_CONSUMER)
    if report.results[Result.DEFERRED.value]:
        raise ReplayError("a delivery was deferred during a replay; this is a bug")
    return report


def _from(after_seq: int) -> dict[str, Any]:
    if not after_seq:
        return {"deliver_policy": api.DeliverPolicy.ALL}
    return {"deliver_policy": api.DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": after_seq + 1}


@dataclass(frozen=True)
class TableDifference:
    table: str
    live_rows: int
    rebuilt_rows: int
    only_live: int
    only_rebuilt: int


def compare(live: SqlLedger, rebuilt: SqlLedger) -> list[TableDifference]:
    """Every ledger table, row for row (as multisets), apart from ``ORDER_COLUMNS``.

    Only counts come back: rows carry case references and the like, not for a terminal.
    """
    differences = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name in NOT_FROM_THE_STREAM:
            continue
        ours = Counter(_rows(live, table))
        theirs = Counter(_rows(rebuilt, table))
        if ours != theirs:
            differences.append(
                TableDifference(
                    table.name,
                    sum(ours.values()),
                    sum(theirs.values()),
                    sum((ours - theirs).values()),
                    sum((theirs - ours).values()),
                )
            )
    return differences


def _rows(ledger: SqlLedger, table: Any) -> Iterator[str]:
    columns = [c for c in table.columns if c.name not in ORDER_COLUMNS]
    with Session(ledger.engine) as session:
        for row in session.execute(select(*columns)).mappings():
            values = dict(row)
            if table.name == MessageRow.__tablename__ and values["personal_sealed"] is not None:
                values["personal_sealed"] = ledger.personal(values["message_id"], values["source"])
            if table.name == DeadLetterRow.__tablename__:
                values["body_sealed"] = ledger.open_dead_letter(
                    values["body_sealed"], values["stream_seq"]
                )
            yield json.dumps(values, default=_plain, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)

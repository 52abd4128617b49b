"""The SQL ledger: the federal system of record, on SQLite by default or PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, SQLModel, col, create_engine, select

from adapters.migrate import upgrade
from adapters.sealing import Sealer
from adapters.tables import (
    AttendanceRow,
    BoardSessionRow,
    CapacityReportRow,
    CommitmentRow,
    DeadLetterRow,
    EscalationRow,
    MessageRow,
    RecipientRow,
    RequestRow,
    ShelterCapacityRow,
)
from bus.capacity import ShelterCapacity
from bus.chain import GENESIS, Link, link_hash
from bus.lifecycle import (
    Commitment,
    CommitmentStatus,
    Recipient,
    RecipientStatus,
    RequestState,
)
from bus.personal import split as split_personal
from bus.ports import (
    AttendanceRecord,
    BoardSessionRecord,
    DeadLetterRecord,
    EscalationRecord,
    Handled,
    LedgerUnavailable,
    MessageRecord,
    StoredMessage,
)
from schemas.envelope import Urgency
from schemas.registry import active_registry


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class PoolOptions:
    """The connection pool of a server database (``adapters.settings`` reads it from the env)."""

    size: int = 5  # kept open: the hub's writer, the sweeper and a few views at once
    max_overflow: int = 10  # opened for a burst beyond that, closed again when returned
    timeout: float = 30.0  # seconds to wait for a free connection before failing loudly
    # Seconds; reconnect before a firewall or PgBouncer drops a connection idle for long.
    recycle: int = 1800

    def engine_options(self) -> dict[str, Any]:
        return {
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout,
            "pool_recycle": self.recycle,
            # a connection killed while idle (server restart, failover) is replaced, not used
            "pool_pre_ping": True,
        }


def make_engine(url: str, *, pool: PoolOptions | None = None, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        # One local file: the pool settings of a server database do not apply.
        engine = create_engine(url, connect_args={"check_same_thread": False}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, **{**(pool or PoolOptions()).engine_options(), **options})


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets the CLI read while the hub writes; synchronous=FULL makes each commit durable
    # before the hub acknowledges the delivery to JetStream.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class SqlLedger:
    """Implements ``bus.ports.Ledger`` over SQLAlchemy."""

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        sealer: Sealer | None = None,
        pool: PoolOptions | None = None,
        **engine_options: Any,
    ) -> None:
        self.url = url
        self.sealer = sealer or Sealer.ephemeral()
        self.engine = make_engine(url, pool=pool, **engine_options)
        if create:  # create or migrate the schema to the newest revision (adapters.migrate)
            upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def unit(self) -> Iterator[SqlUnit]:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield SqlUnit(session, self.sealer)
                session.commit()
            except (OperationalError, InterfaceError) as exc:
                # The database is down, restarting or locked: nothing is wrong with the
                # messages, and the hub waits instead of counting it against them.
                with contextlib.suppress(Exception):
                    session.rollback()
                raise LedgerUnavailable(f"ledger unavailable: {type(exc.orig).__name__}") from exc
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session for the views."""
        with Session(self.engine) as session:
            yield session

    def chain(self, batch: int = 5000) -> Iterator[Link]:
        """Every recorded message in recording order, as links of the hash chain."""
        with Session(self.engine) as session:
            query = (
                select(MessageRow).order_by(col(MessageRow.seq)).execution_options(yield_per=batch)
            )
            for row in session.exec(query):
                assert row.seq is not None
                yield Link(
                    row.seq,
                    row.message_id,
                    row.type,
                    row.source,
                    row.nats_subject,
                    row.stream_seq,
                    row.sent_at,
                    row.recorded_at,
                    row.body,
                    row.prev_hash,
                    row.row_hash,
                )

    def personal(self, message_id: str) -> Any:
        """The personal details of a recorded message, opened for a federal view (or None)."""
        with Session(self.engine) as session:
            sealed = session.exec(
                select(MessageRow.personal_sealed).where(MessageRow.message_id == message_id)
            ).first()
        return json.loads(self.sealer.open(sealed, message_id)) if sealed else None

    def dead_letter_body(self, row: DeadLetterRow) -> bytes:
        """The bad input as it was received, opened for whoever investigates it."""
        return self.sealer.open(row.body_sealed, f"dead-letter:{row.stream_seq}")

    def last_link(self) -> tuple[int, str, str] | None:
        """(sequence, message id, hash) of the chain's head, for checkpoints."""
        with Session(self.engine) as session:
            row = session.exec(
                select(MessageRow.seq, MessageRow.message_id, MessageRow.row_hash)
                .order_by(col(MessageRow.seq).desc())
                .limit(1)
            ).first()
        return (int(row[0] or 0), row[1], row[2]) if row else None

    def count(self, table: type[SQLModel]) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(table)).one())


class SqlUnit:
    """One ledger transaction; implements ``bus.ports.LedgerUnit``."""

    def __init__(self, session: Session, sealer: Sealer) -> None:
        self.session = session
        self.sealer = sealer
        self._requests: dict[str, RequestRow] = {}
        self._recipients: dict[tuple[str, str], RecipientRow] = {}
        self._commitments: dict[tuple[str, str], CommitmentRow] = {}
        self._last_hash: str | None = None  # the chain's head within this transaction

    def handled(self, stream_seq: int) -> Handled | None:
        found = self.session.exec(
            select(MessageRow.seq).where(MessageRow.stream_seq == stream_seq)
        ).first()
        if found is not None:
            return Handled(notice=None)
        notice = self.session.exec(
            select(DeadLetterRow.id, DeadLetterRow.notice).where(
                DeadLetterRow.stream_seq == stream_seq
            )
        ).first()
        return Handled(notice=notice[1]) if notice is not None else None

    def stored_message(self, message_id: str) -> StoredMessage | None:
        row = self.session.exec(
            select(MessageRow.nats_subject, MessageRow.stream_seq, MessageRow.raw_sha256).where(
                MessageRow.message_id == message_id
            )
        ).first()
        return StoredMessage(message_id, row[0], row[1], row[2]) if row is not None else None

    def load_request(self, request_id: str) -> RequestState | None:
        row = self._requests.get(request_id) or self.session.get(RequestRow, request_id)
        if row is None:
            return None
        self._requests[request_id] = row
        recipients = self.session.exec(
            select(RecipientRow)
            .where(RecipientRow.request_id == request_id)
            .order_by(col(RecipientRow.position))
        ).all()
        commitments = self.session.exec(
            select(CommitmentRow)
            .where(CommitmentRow.request_id == request_id)
            .order_by(col(CommitmentRow.id))
        ).all()
        for r in recipients:
            self._recipients[(request_id, r.agency)] = r
        for c in commitments:
            self._commitments[(request_id, c.commitment_id)] = c
        return _state(row, recipients, commitments)

    def save_request(self, state: RequestState) -> None:
        rid = state.request_id
        row = self._requests.get(rid) or self.session.get(RequestRow, rid)
        if row is None:
            row = RequestRow(
                request_id=rid,
                type=state.type,
                source=state.source,
                case_ref=state.case_ref,
                urgency=state.urgency.value,
                sent_at=state.sent_at,
            )
            self.session.add(row)
            self.session.flush()  # the parent row first: recipients reference it
            self._requests[rid] = row
        row.expires = state.expires
        row.updated_at = state.updated_at
        row.closed_at = state.closed_at
        row.iachr_precautionary_measure = state.iachr_precautionary_measure
        row.board_session_id = state.board_session_id
        for position, recipient in enumerate(state.recipients):
            rrow = self._recipients.get((rid, recipient.agency))
            if rrow is None:
                agency = active_registry().get(recipient.agency)
                rrow = RecipientRow(
                    request_id=rid,
                    agency=recipient.agency,
                    status="",
                    kind=state.type.split(".")[2],
                    urgency=state.urgency.value,
                    state=agency.state if agency else None,
                    sent_at=state.sent_at,
                    ack_due_at=recipient.ack_due,
                    answer_due_at=recipient.answer_due,
                )
                self.session.add(rrow)
                self._recipients[(rid, recipient.agency)] = rrow
            rrow.position = position
            rrow.status = recipient.status.value
            rrow.delivered_at = recipient.delivered_at
            rrow.acknowledged_at = recipient.acknowledged_at
            rrow.acknowledged_by = recipient.acknowledged_by
            if recipient.acknowledged_at is not None:
                elapsed = recipient.acknowledged_at - state.sent_at
                rrow.seconds_to_acknowledge = elapsed.total_seconds()
            rrow.decided_at = recipient.decided_at
            rrow.decision_note = recipient.decision_note
        for commitment in state.commitments:
            crow = self._commitments.get((rid, commitment.commitment_id))
            if crow is None:
                crow = CommitmentRow(
                    request_id=rid,
                    commitment_id=commitment.commitment_id,
                    agency=commitment.agency,
                    action=commitment.action,
                    due=commitment.due,
                    made_at=commitment.made_at,
                    status="",
                )
                self.session.add(crow)
                self._commitments[(rid, commitment.commitment_id)] = crow
            crow.status = commitment.status.value
            crow.last_progress_at = commitment.last_progress_at
            crow.ended_at = commitment.ended_at

    def escalation_fired(self, record: EscalationRecord) -> bool:
        found = self.session.exec(
            select(EscalationRow.id).where(
                EscalationRow.request_id == record.request_id,
                EscalationRow.agency == record.agency,
                EscalationRow.clock == record.clock,
                EscalationRow.commitment_key == (record.commitment_id or ""),
                EscalationRow.level == record.level,
            )
        ).first()
        return found is not None

    def add_escalation(self, record: EscalationRecord) -> None:
        fields = dict(record.__dict__)
        fields["commitment_key"] = fields.pop("commitment_id") or ""
        self.session.add(EscalationRow(**fields))

    def save_board_session(self, record: BoardSessionRecord) -> None:
        row = self.session.get(BoardSessionRow, record.session_id)
        if row is None:
            self.session.add(BoardSessionRow(**record.__dict__))
        else:  # rescheduled
            row.scheduled_at = record.scheduled_at
            row.venue = record.venue

    def save_attendance(self, record: AttendanceRecord) -> None:
        row = self.session.exec(
            select(AttendanceRow).where(
                AttendanceRow.session_id == record.session_id,
                AttendanceRow.agency == record.agency,
            )
        ).first()
        if row is None:
            self.session.add(AttendanceRow(**record.__dict__))
        else:  # a correction: the latest word stands
            row.attended = record.attended
            row.recorded_at = record.recorded_at

    def record_capacity(self, capacity: ShelterCapacity, body_json: str) -> None:
        self.session.add(
            CapacityReportRow(
                shelter=capacity.shelter, reported_at=capacity.reported_at, body_json=body_json
            )
        )
        row = self.session.get(ShelterCapacityRow, capacity.shelter)
        fields = capacity_row_fields(capacity)
        if row is None:
            self.session.add(ShelterCapacityRow(**fields))
        else:
            for name, value in fields.items():
                setattr(row, name, value)

    def capacity(self, shelter: str) -> ShelterCapacity | None:
        row = self.session.get(ShelterCapacityRow, shelter)
        return capacity_from_row(row) if row is not None else None

    def adjust_free_spaces(self, shelter: str, delta: int) -> ShelterCapacity:
        row = self.session.get(ShelterCapacityRow, shelter)
        if row is None:
            raise LookupError(f"{shelter} has published no capacity")
        row.free_spaces = max(0, min(row.total_spaces, row.free_spaces + delta))
        return capacity_from_row(row)

    def add_message(self, record: MessageRecord) -> None:
        if self._last_hash is None:
            last = self.session.exec(
                select(MessageRow.row_hash).order_by(col(MessageRow.seq).desc()).limit(1)
            ).first()
            self._last_hash = last or GENESIS
        # Personal details leave the body and are kept sealed; the chain covers what is stored.
        body, personal = split_personal(record.body)
        sealed = self.sealer.seal(personal, record.message_id) if personal else None
        row_hash = link_hash(
            self._last_hash,
            record.message_id,
            record.type,
            record.source,
            record.nats_subject,
            record.stream_seq,
            record.sent_at,
            record.recorded_at,
            body,
        )
        fields = {**record.__dict__, "body": body}
        self.session.add(
            MessageRow(
                **fields,
                personal_sealed=sealed,
                raw_sha256=hashlib.sha256(record.body).hexdigest(),
                prev_hash=self._last_hash,
                row_hash=row_hash,
            )
        )
        self._last_hash = row_hash

    def add_dead_letter(self, record: DeadLetterRecord) -> None:
        fields = dict(record.__dict__)
        fields["errors_json"] = json.dumps([list(e) for e in fields.pop("errors")])
        fields["body_sealed"] = self.sealer.seal(
            fields.pop("body"), f"dead-letter:{record.stream_seq}"
        )
        self.session.add(DeadLetterRow(**fields))


def _state(row: RequestRow, recipients: Any, commitments: Any) -> RequestState:
    return RequestState(
        request_id=row.request_id,
        type=row.type,
        source=row.source,
        case_ref=row.case_ref,
        urgency=Urgency(row.urgency),
        sent_at=row.sent_at,
        expires=row.expires,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        iachr_precautionary_measure=row.iachr_precautionary_measure,
        board_session_id=row.board_session_id,
        recipients=tuple(
            Recipient(
                agency=r.agency,
                status=RecipientStatus(r.status),
                delivered_at=r.delivered_at,
                acknowledged_at=r.acknowledged_at,
                acknowledged_by=r.acknowledged_by,
                decided_at=r.decided_at,
                decision_note=r.decision_note,
                ack_due=r.ack_due_at,
                answer_due=r.answer_due_at,
            )
            for r in recipients
        ),
        commitments=tuple(
            Commitment(
                commitment_id=c.commitment_id,
                agency=c.agency,
                action=c.action,
                due=c.due,
                made_at=c.made_at,
                status=CommitmentStatus(c.status),
                last_progress_at=c.last_progress_at,
                ended_at=c.ended_at,
            )
            for c in commitments
        ),
    )


def capacity_row_fields(capacity: ShelterCapacity) -> dict[str, Any]:
    fields = dict(capacity.__dict__)
    fields["services_json"] = json.dumps(list(fields.pop("services")), ensure_ascii=False)
    return fields


def capacity_from_row(row: ShelterCapacityRow) -> ShelterCapacity:
    return ShelterCapacity(
        shelter=row.shelter,
        region=row.region,
        total_spaces=row.total_spaces,
        free_spaces=row.free_spaces,
        spaces_24h=row.spaces_24h,
        spaces_72h=row.spaces_72h,
        accepts_families=row.accepts_families,
        accepts_children=row.accepts_children,
        accessible=row.accessible,
        security_level=row.security_level,
        max_stay_days=row.max_stay_days,
        services=tuple(json.loads(row.services_json)),
        reported_at=row.reported_at,
    )

"""The ledger's rows from the domain's records and back: requests, recipients, commitments,
shelter capacity (one place, so that the unit of work and the read model agree); and rows
inserted in bulk, as each dialect takes them fastest."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

from adapters.ledger.tables import RequestRow, ShelterCapacityRow
from bus.domain.capacity import ShelterCapacity
from bus.domain.lifecycle import (
    Commitment,
    CommitmentStatus,
    Recipient,
    RecipientStatus,
    RequestState,
)
from schemas.envelope import Urgency
from schemas.registry import active_registry

# str() of a StrEnum is its value, without the enum property's cost on the hot path.


def request_row(state: RequestState) -> dict[str, Any]:
    return {
        "request_id": state.request_id,
        "type": state.type,
        "source": state.source,
        "case_ref": state.case_ref,
        "urgency": str(state.urgency),
        "sent_at": state.sent_at,
        "expires": state.expires,
        "updated_at": state.updated_at,
        "closed_at": state.closed_at,
        "iachr_precautionary_measure": state.iachr_precautionary_measure,
        "board_session_id": state.board_session_id,
        "legal_limit": state.legal_limit,
    }


def recipient_row(state: RequestState, position: int, recipient: Recipient) -> dict[str, Any]:
    agency = active_registry().get(recipient.agency)
    return {
        "request_id": state.request_id,
        "agency": recipient.agency,
        "kind": state.type.split(".")[2],
        "urgency": str(state.urgency),
        "state": agency.state if agency else None,
        "sent_at": state.sent_at,
        "ack_due_at": recipient.ack_due,
        "answer_due_at": recipient.answer_due,
        **recipient_changes(state, position, recipient),
    }


def recipient_changes(state: RequestState, position: int, recipient: Recipient) -> dict[str, Any]:
    """The columns a recipient's progress changes."""
    acknowledged = recipient.acknowledged_at
    return {
        "position": position,
        "status": str(recipient.status),
        "delivered_at": recipient.delivered_at,
        "acknowledged_at": acknowledged,
        "acknowledged_by": recipient.acknowledged_by,
        "seconds_to_acknowledge": (
            (acknowledged - state.sent_at).total_seconds() if acknowledged is not None else None
        ),
        "decided_at": recipient.decided_at,
        "decision_note": recipient.decision_note,
    }


def commitment_row(request_id: str, commitment: Commitment) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "commitment_id": commitment.commitment_id,
        "agency": commitment.agency,
        "action": commitment.action,
        "due": commitment.due,
        "made_at": commitment.made_at,
        "status": str(commitment.status),
        "last_progress_at": commitment.last_progress_at,
        "ended_at": commitment.ended_at,
        "legal_limit": commitment.legal_limit,
    }


def request_state(row: RequestRow, recipients: Any, commitments: Any) -> RequestState:
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
        legal_limit=row.legal_limit,
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
                legal_limit=c.legal_limit,
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


@dataclass(frozen=True)
class _Insert:
    """An INSERT of some columns of a table, compiled once for a dialect: its SQL, the columns
    in the order of its parameters, and each column's conversion to what the driver takes."""

    sql: str
    keys: tuple[str, ...]
    positional: bool
    convert: tuple[tuple[str, Callable[[Any], Any]], ...]


_COMPILED: dict[tuple[Table, str, tuple[str, ...]], _Insert] = {}


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in one executemany of the driver's own, or
    on PostgreSQL in one COPY (``copy_rows``).

    SQLAlchemy's Core executemany runs every parameter of every row through its type's
    processing (a third of the hub's insert time): here only the columns whose type converts
    (times, binaries) are converted, and the rest go to the driver as they are. Executed on the
    unit's connection, inside its transaction, so the commit (and its fence) is unchanged.
    """
    dialect = connection.dialect
    keys = tuple(rows[0])
    found = _COMPILED.get((table, dialect.name, keys))
    if found is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ()) if compiled.positional else keys
        # The type as this dialect stores it (SQLite's DATETIME writes its own string form:
        # the generic type's processor would leave the driver to format times its own way).
        processors = {
            key: table.columns[key].type.dialect_impl(dialect).bind_processor(dialect)
            for key in keys
        }
        convert = tuple((key, p) for key, p in processors.items() if p is not None)
        found = _Insert(compiled.string, order, compiled.positional, convert)
        _COMPILED[(table, dialect.name, keys)] = found
    if found.convert:
        rows = [dict(row) for row in rows]
        for row in rows:
            for key, convert_value in found.convert:
                row[key] = convert_value(row[key])
    if dialect.name == "postgresql":
        copy_rows(connection, table.name, keys, rows)
        return
    params: list[Any] = (
        [tuple(row[key] for key in found.keys) for row in rows] if found.positional else rows
    )
    connection.exec_driver_sql(found.sql, params)


def copy_rows(
    connection: Connection, table: str, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    """PostgreSQL: the rows in one ``COPY ... FROM STDIN``, a single stream to the server.

    psycopg's executemany sends each row as a statement of its own (pipelined, but parsed,
    bound and dumped row by row: most of the hub's insert time on PostgreSQL); COPY formats
    every row in psycopg's C code. Only new rows come here (COPY has no ON CONFLICT), and a
    failure raises SQLAlchemy's exception as an executemany would, so the unit's handling
    (a database away: wait; anything else: roll back) is unchanged.
    """
    sql = f"COPY {table} ({', '.join(keys)}) FROM STDIN"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row[key] for key in keys])
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, connection.dialect.loaded_dbapi.Error, dialect=connection.dialect
        ) from exc
    finally:
        cursor.close()

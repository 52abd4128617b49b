"""One ledger transaction (``bus.domain.ports.LedgerUnit``), written behind: the hot path in bulk.

The hub records hundreds of messages per transaction. Building an ORM object per row and
flushing before every query cost most of its time, so the rows every message adds (the
message itself, a new request with its recipients and commitments, a dead letter) are kept
as plain rows and inserted with one statement per table when the unit is written, and what
those rows answer (already handled? this id stored? this request's state?) is answered from
memory until then. Rarer records (escalations, Board sessions, capacity) stay on the ORM
(``adapters.ledger.records``); rows are made from records in ``adapters.ledger.rows``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import LargeBinary, bindparam, cast, null, union_all
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from adapters.ledger import aggregates
from adapters.ledger.aggressors import AggressorRecords
from adapters.ledger.federal import FederalRecords
from adapters.ledger.people import Indexed, person_entries, text_entries
from adapters.ledger.records import OrmRecords
from adapters.ledger.rows import (
    commitment_row,
    insert_rows,
    recipient_changes,
    recipient_row,
    request_row,
    request_state,
)
from adapters.ledger.sealing import Sealer
from adapters.ledger.tables import (
    CommitmentRow,
    DeadLetterRow,
    FederalObligationRow,
    MessageCopyRow,
    MessageRow,
    PersonIndexRow,
    PresumedAggressorRow,
    RecipientRow,
    RequestRow,
    RequestTextRow,
)
from bus.domain.chain import GENESIS, link_hash
from bus.domain.lifecycle import RequestState
from bus.domain.personal import split as split_personal
from bus.domain.ports import CopyRecord, DeadLetterRecord, Handled, MessageRecord, StoredMessage


class SqlUnit(OrmRecords, FederalRecords, AggressorRecords):
    """One ledger transaction; ``SqlLedger.unit`` calls ``write`` before it commits."""

    def __init__(self, session: Session, sealer: Sealer) -> None:
        self.session = session
        self.sealer = sealer
        # Requests read from the database: their ORM rows, updated in place.
        self._requests: dict[str, RequestRow] = {}
        # request id -> agency / commitment id -> row, in the order the request lists them
        self._recipients: dict[str, dict[str, RecipientRow]] = {}
        self._commitments: dict[str, dict[str, CommitmentRow]] = {}
        # Requests first recorded in this unit: their latest state, inserted by ``write``.
        self._new_requests: dict[str, RequestState] = {}
        self._absent: set[str] = set()  # request ids known not to be in the database
        self._messages: list[dict[str, Any]] = []
        self._dead_letters: list[dict[str, Any]] = []
        self._copies: list[dict[str, Any]] = []
        # what staff search by, written with the messages (adapters.ledger.people)
        self._people: list[dict[str, Any]] = []
        self._texts: list[dict[str, Any]] = []
        self._handled: dict[int, Handled | None] = {}  # by stream sequence, known this unit
        # (source, message id) pairs stored, as far as known
        self._stored: dict[tuple[str, str], StoredMessage] = {}
        self._not_stored: set[tuple[str, str]] = set()
        self._fired: set[tuple[str, str, str, str, str]] = set()
        self._last_hash: str | None = None  # the chain's head within this transaction
        self._federal: dict[str, dict[str, FederalObligationRow]] = {}
        self._named: dict[tuple[str, str], PresumedAggressorRow] = {}  # see AggressorRecords
        self._named_in_db: dict[str, frozenset[str]] = {}

    def expect(
        self,
        stream_seqs: Iterable[int],
        message_keys: Iterable[tuple[str, str]] = (),
        request_ids: Iterable[str] = (),
    ) -> None:
        """Look up together what a batch will ask about: which deliveries were handled
        before, which (source, message id) pairs are stored, and the requests it concerns."""
        seqs = [s for s in stream_seqs if s not in self._handled]
        keys = [k for k in set(message_keys) if k not in self._stored]
        rids = [
            r
            for r in set(request_ids)
            if r not in self._requests and r not in self._new_requests and r not in self._absent
        ]
        with self.session.no_autoflush:
            if seqs:
                self._expect_deliveries(seqs)
            if keys:
                self._expect_messages(keys)
            if rids:
                self._expect_requests(rids)

    def expect_cases(self, case_refs: Iterable[str]) -> None:
        """Look up together the cases a batch names: their federal obligations and the
        agencies named presumed aggressor on them (most cases have neither)."""
        cases = set(case_refs)
        FederalRecords.expect_cases(self, cases)
        self.expect_named(cases)

    def _expect_deliveries(self, seqs: list[int]) -> None:
        # One statement for the three tables a delivery may be in: on a server database each
        # statement is a round trip, and this one runs for every batch.
        self._handled.update(dict.fromkeys(seqs))
        for seq, notice in self.session.connection().execute(_HANDLED, {"seqs": seqs}):
            self._handled[seq] = Handled(notice=notice)

    def _expect_messages(self, keys: list[tuple[str, str]]) -> None:
        # By id (indexed), then kept only where the source matches too.
        ids = sorted({i for _, i in keys})
        rows = self.session.connection().execute(_STORED_BY_IDS, {"ids": ids}).all()
        self._not_stored.update(keys)
        for row in rows:
            stored = StoredMessage(*row)
            key = (stored.source, stored.message_id)
            self._stored[key] = stored
            self._not_stored.discard(key)

    def _expect_requests(self, rids: list[str]) -> None:
        rows = self.session.exec(_REQUESTS, params={"ids": rids})
        found = {row.request_id: row for row in rows}
        self._absent.update(set(rids) - found.keys())
        if not found:
            return
        self._requests.update(found)
        for rid in found:
            self._recipients[rid], self._commitments[rid] = {}, {}
        recipients = self.session.exec(_RECIPIENTS, params={"ids": list(found)})
        commitments = self.session.exec(_COMMITMENTS, params={"ids": list(found)})
        for r in recipients:
            self._recipients[r.request_id][r.agency] = r
        for c in commitments:
            self._commitments[c.request_id][c.commitment_id] = c

    def handled(self, stream_seq: int) -> Handled | None:
        if stream_seq not in self._handled:
            self.expect([stream_seq])
        return self._handled[stream_seq]

    def stored_message(self, source: str, message_id: str) -> StoredMessage | None:
        key = (source, message_id)
        if key in self._stored:
            return self._stored[key]
        if key in self._not_stored:
            return None
        with self.session.no_autoflush:
            row = (
                self.session.connection()
                .execute(_STORED_ONE, {"source": source, "message_id": message_id})
                .first()
            )
        return StoredMessage(*row) if row is not None else None

    def add_copy(self, record: CopyRecord) -> None:
        self._copies.append(dict(record.__dict__))
        self._handled[record.stream_seq] = Handled(notice=None)

    def load_request(self, request_id: str) -> RequestState | None:
        if request_id in self._new_requests:
            return self._new_requests[request_id]
        if request_id not in self._requests and request_id not in self._absent:
            with self.session.no_autoflush:
                self._expect_requests([request_id])
        row = self._requests.get(request_id)
        if row is None:
            return None
        recipients = sorted(self._recipients[request_id].values(), key=lambda r: r.position)
        return request_state(row, recipients, self._commitments[request_id].values())

    def save_request(self, state: RequestState) -> None:
        rid = state.request_id
        if rid not in self._requests:
            # New in this unit (or made and changed again within it): inserted by ``write``.
            self._new_requests[rid] = state
            self._absent.discard(rid)
            return
        row = self._requests[rid]
        row.expires = state.expires
        row.updated_at = state.updated_at
        row.closed_at = state.closed_at
        row.iachr_precautionary_measure = state.iachr_precautionary_measure
        row.board_session_id = state.board_session_id
        for position, recipient in enumerate(state.recipients):
            rrow = self._recipients[rid].get(recipient.agency)
            if rrow is None:
                rrow = RecipientRow(**recipient_row(state, position, recipient))
                self.session.add(rrow)
                self._recipients[rid][recipient.agency] = rrow
            else:
                for name, value in recipient_changes(state, position, recipient).items():
                    setattr(rrow, name, value)
        for commitment in state.commitments:
            crow = self._commitments[rid].get(commitment.commitment_id)
            if crow is None:
                crow = CommitmentRow(**commitment_row(rid, commitment))
                self.session.add(crow)
                self._commitments[rid][commitment.commitment_id] = crow
            else:
                crow.status = str(commitment.status)
                crow.last_progress_at = commitment.last_progress_at
                crow.ended_at = commitment.ended_at

    def add_message(self, record: MessageRecord) -> None:
        if self._last_hash is None:
            with self.session.no_autoflush:
                last = self.session.connection().execute(_CHAIN_HEAD).scalar()
            self._last_hash = last or GENESIS
        # Personal details leave the body and are kept sealed; the chain covers what is stored.
        body, personal = split_personal(record.body)
        sealed = self.sealer.seal(personal, record.message_id) if personal else None
        indexed = Indexed(
            record.source, record.message_id, record.thread_id, record.case_ref, record.family
        )
        self._people += person_entries(self.sealer, indexed, personal)
        self._texts += text_entries(indexed, body)
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
        raw_sha256 = hashlib.sha256(record.body).hexdigest()
        self._messages.append(
            {
                **record.__dict__,
                "body": body,
                "personal_sealed": sealed,
                "raw_sha256": raw_sha256,
                "prev_hash": self._last_hash,
                "row_hash": row_hash,
            }
        )
        self._last_hash = row_hash
        self._handled[record.stream_seq] = Handled(notice=None)
        self._stored[(record.source, record.message_id)] = StoredMessage(
            record.source,
            record.message_id,
            record.nats_subject,
            record.stream_seq,
            raw_sha256,
            record.content_sha256,
        )

    def add_dead_letter(self, record: DeadLetterRecord) -> None:
        fields = dict(record.__dict__)
        fields["errors_json"] = json.dumps([list(e) for e in fields.pop("errors")])
        fields["body_sealed"] = self.sealer.seal(
            fields.pop("body"), dead_letter_context(record.stream_seq)
        )
        self._dead_letters.append(fields)
        self._handled[record.stream_seq] = Handled(notice=record.notice)

    def write(self) -> None:
        """Insert what the unit kept, parents first, one executemany per table (SQLAlchemy
        Core on the unit's own connection: the ORM's bulk path costs twice as much)."""
        new = list(self._new_requests.values())
        rows: list[tuple[Any, list[dict[str, Any]]]] = [
            (RequestRow, [request_row(s) for s in new]),
            (
                RecipientRow,
                [recipient_row(s, i, r) for s in new for i, r in enumerate(s.recipients)],
            ),
            (CommitmentRow, [commitment_row(s.request_id, c) for s in new for c in s.commitments]),
        ]
        self._insert(rows)
        aggregates.keep(self.session, dict(rows))  # the scorecard's figures by day and month
        self.session.flush()  # the ORM's share: updated requests, escalations, capacity
        self._insert(
            [
                (MessageRow, self._messages),
                (MessageCopyRow, self._copies),
                (DeadLetterRow, self._dead_letters),
                (PersonIndexRow, self._people),
                (RequestTextRow, self._texts),
            ]
        )

    def _insert(self, tables: list[tuple[Any, list[dict[str, Any]]]]) -> None:
        connection = self.session.connection()
        for model, rows in tables:
            if rows:
                insert_rows(connection, model.__table__, rows)


def _handled_query() -> Any:
    """The deliveries among ``seqs`` already recorded, copied or refused, with the notice a
    refusal published."""
    seqs: Any = bindparam("seqs", expanding=True)
    none = cast(null(), LargeBinary)  # a notice's type: PostgreSQL unites only like columns
    return union_all(
        *(
            select_columns(col(model.stream_seq), kept).where(col(model.stream_seq).in_(seqs))
            for model, kept in (
                (MessageRow, none),
                (MessageCopyRow, none),
                (DeadLetterRow, col(DeadLetterRow.notice)),
            )
        )
    )


_HANDLED = _handled_query()


def _stored() -> Any:
    """The columns of a bus.domain.ports.StoredMessage, in its order (more than SQLModel types)."""
    return select_columns(
        col(MessageRow.source),
        col(MessageRow.message_id),
        col(MessageRow.nats_subject),
        col(MessageRow.stream_seq),
        col(MessageRow.raw_sha256),
        col(MessageRow.content_sha256),
    )


# What every unit asks, built once: constructing a statement costs more than running it
# (a lookup of one id: 146 µs built per call, 32 µs prebuilt, on SQLite), and at a low rate
# a commit holds a request or two, so these fixed costs are most of its time.
def _ids() -> Any:
    return bindparam("ids", expanding=True)


_STORED_BY_IDS = _stored().where(col(MessageRow.message_id).in_(_ids()))
_STORED_ONE = _stored().where(
    col(MessageRow.source) == bindparam("source"),
    col(MessageRow.message_id) == bindparam("message_id"),
)
_CHAIN_HEAD = select_columns(col(MessageRow.row_hash)).order_by(col(MessageRow.seq).desc()).limit(1)
_REQUESTS = select(RequestRow).where(col(RequestRow.request_id).in_(_ids()))
_RECIPIENTS = (
    select(RecipientRow)
    .where(col(RecipientRow.request_id).in_(_ids()))
    .order_by(col(RecipientRow.request_id), col(RecipientRow.position))
)
_COMMITMENTS = (
    select(CommitmentRow)
    .where(col(CommitmentRow.request_id).in_(_ids()))
    .order_by(col(CommitmentRow.request_id), col(CommitmentRow.id))
)


def dead_letter_context(stream_seq: int) -> str:
    """What a dead letter's sealed body is bound to: it opens only as that dead letter."""
    return f"dead-letter:{stream_seq}"

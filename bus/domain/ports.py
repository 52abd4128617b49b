"""What the coordination core needs from a ledger and from the bus, as protocols.

The SQL adapter implements the ledger's, bus.runtime the bus's over JetStream. Keeping both
behind these ports is what lets bus/ stay free of SQL, lets the same recording logic run on
SQLite and PostgreSQL, and lets the hub's loops run in a test against in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bus.domain.aggressors import AggressorChange
from bus.domain.board import BoardSession, Consent
from bus.domain.capacity import ShelterCapacity
from bus.domain.errors import LedgerError, TransportError
from bus.domain.federal_clocks import CaseRequest, FederalObligation
from bus.domain.iachr import MeasureDates
from bus.domain.ladder import Obligation
from bus.domain.lifecycle import RequestState
from schemas.tracking import EscalationLevel


class LedgerUnavailable(LedgerError, RuntimeError):
    """The ledger cannot be reached or written just now (a restart, a lost connection, a lock).

    Nothing is wrong with the messages: the hub holds its batch and tries again, and such
    failures never count toward a message's deliveries.
    """


class PublishError(TransportError, RuntimeError):
    """A publish that the stream did not confirm."""


@dataclass(frozen=True)
class Published:
    """The stream's confirmation of one publish (JetStream's PubAck)."""

    stream: str
    seq: int
    duplicate: bool = False  # the stream had it already (same msg id within its window)


class Publisher(Protocol):
    """Publishes bytes on the bus's stream and waits for its confirmation."""

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        msg_id: str | None = None,
    ) -> Published:
        """``msg_id`` lets the stream recognise a retry in its duplicate window; raises
        PublishError when the stream does not confirm."""
        ...


@dataclass(frozen=True)
class OnStream:
    """A message as the stream keeps it, read back by its sequence."""

    subject: str
    data: bytes
    stored_at: datetime | None


class Transport(Publisher, Protocol):
    """The hub's bus: publishing, and reading back what the stream stored."""

    async def stored(self, stream_seq: int) -> OnStream | None:
        """The message at ``stream_seq`` on the main stream; None once it is gone."""
        ...


class Received(Protocol):
    """One message the bus delivered to a durable consumer, to settle once handled."""

    @property
    def subject(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def stream_seq(self) -> int: ...

    @property
    def attempt(self) -> int:
        """The bus's delivery count for this message (1 the first time)."""
        ...

    @property
    def stored_at(self) -> datetime: ...

    @property
    def headers(self) -> Mapping[str, str] | None:
        """The message's headers (the trace context it carries, if any)."""
        ...

    async def ack(self) -> None: ...

    async def nak(self, delay: float | None = None) -> None:
        """Not handled: deliver again, after ``delay`` seconds if given."""
        ...

    async def in_progress(self) -> None:
        """Still being handled: do not hand it to anyone else yet."""
        ...


BatchHandler = Callable[[list[Received]], Awaitable[None]]
"""What a durable consumer's deliveries go to, one batch at a time, in stream order."""


class CapacityBoard(Protocol):
    """Where the shelters' latest capacity is published for reading (a key-value bucket)."""

    async def put(self, shelter: str, document: bytes) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """One message as JetStream delivered it to the hub."""

    subject: str
    data: bytes
    stream_seq: int
    attempt: int = 1  # JetStream's delivery count for this message
    # Young enough that its request may still be on its way (see recording.Result.DEFERRED)
    may_wait: bool = False
    # When the stream stored it: the moment the bus accepted the message, and so the time
    # the ledger records it at unless the hub runs on a clock of its own (tests, trials).
    # It makes recording a function of the stream alone, which is what lets a replay of the
    # stream rebuild the very same ledger.
    stored_at: datetime | None = None
    # The message's headers: what the hub traces it under (bus.runtime.tracing), never recorded.
    headers: Mapping[str, str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class MessageRecord:
    message_id: str
    type: str
    family: str
    source: str
    thread_id: str
    causation_id: str | None
    case_ref: str | None
    nats_subject: str
    stream_seq: int
    sent_at: datetime
    recorded_at: datetime
    body: bytes
    content_sha256: str = ""  # redaction.content_digest: the same for every recipient's copy


@dataclass(frozen=True)
class CopyRecord:
    """A stream message that carried a message already recorded (recording.CopyKind)."""

    stream_seq: int
    source: str
    message_id: str
    nats_subject: str
    kind: str
    recorded_at: datetime


@dataclass(frozen=True)
class DeadLetterRecord:
    stream_seq: int
    nats_subject: str
    sender: str | None
    reason: str
    detail: str
    errors: tuple[tuple[str, str], ...]
    message_id: str | None
    received_at: datetime
    body: bytes
    notice: bytes | None  # the ``rejected`` notice sent back, kept so it can be re-sent


@dataclass(frozen=True)
class EscalationRecord:
    request_id: str
    agency: str
    clock: str
    commitment_id: str | None
    level: str
    message_id: str
    to_agency: str
    due_at: datetime
    fired_at: datetime
    board_session_id: str | None
    authority_to_summon: str | None


@dataclass(frozen=True)
class BoardSessionRecord:
    session_id: str
    scheduled_at: datetime
    venue: str


@dataclass(frozen=True)
class ConsentRecord:
    """The beneficiary's consent to invite authorities to the Board, as a case's history keeps
    it (the latest record is in force)."""

    case_ref: str
    given: bool
    agencies: tuple[str, ...]  # empty: every state authority
    recorded_by: str  # an official role
    message_id: str
    recorded_at: datetime


@dataclass(frozen=True)
class AttendanceRecord:
    session_id: str
    agency: str
    attended: bool
    recorded_at: datetime


@dataclass(frozen=True)
class StoredMessage:
    source: str
    message_id: str
    nats_subject: str
    stream_seq: int
    raw_sha256: str  # digest of the bytes as first received
    content_sha256: str  # digest without personal details (bus.domain.redaction.content_digest)


@dataclass(frozen=True)
class Handled:
    """A stream sequence the ledger has already recorded (a redelivery)."""

    notice: bytes | None


class LedgerUnit(Protocol):
    """One ledger transaction. Everything done through it commits together or not at all."""

    def expect(
        self,
        stream_seqs: Iterable[int],
        message_keys: Iterable[tuple[str, str]] = (),
        request_ids: Iterable[str] = (),
    ) -> None:
        """A hint: a batch about these deliveries, messages ((source, id) pairs) and requests
        is about to be recorded (look them up together)."""
        ...

    def handled(self, stream_seq: int) -> Handled | None: ...

    def stored_message(self, source: str, message_id: str) -> StoredMessage | None:
        """The message ``source`` recorded under ``message_id``: ids are scoped by sender."""
        ...

    def add_copy(self, record: CopyRecord) -> None: ...

    def load_request(self, request_id: str) -> RequestState | None: ...

    def save_request(self, state: RequestState) -> None: ...

    def add_message(self, record: MessageRecord) -> None: ...

    def add_dead_letter(self, record: DeadLetterRecord) -> None: ...

    def escalation_fired(self, record: EscalationRecord) -> bool:
        """Whether this rung already fired for this obligation."""
        ...

    def add_escalation(self, record: EscalationRecord) -> None: ...

    def save_board_session(self, record: BoardSessionRecord) -> None: ...

    def expect_cases(self, case_refs: Iterable[str]) -> None:
        """A hint, like ``expect``: the batch may start or meet obligations on these cases, or
        address agencies that may be named presumed aggressor on them."""
        ...

    def federal_obligations(self, case_ref: str) -> list[FederalObligation]:
        """The Mechanism's own obligations on a case (bus.domain.federal_clocks)."""
        ...

    def case_requests(self, case_ref: str) -> list[CaseRequest]:
        """The requests the Mechanism sent on a case, this unit's included."""
        ...

    def save_federal_obligation(self, obligation: FederalObligation) -> None:
        """Insert or update one, by its ``obligation_id``."""
        ...

    def save_attendance(self, record: AttendanceRecord) -> None: ...

    def save_iachr_measure(self, measure: MeasureDates, message_id: str, at: datetime) -> None:
        """Make this the MC's current dates (its earlier messages stay in the record)."""

    def save_consent(self, record: ConsentRecord) -> None: ...

    def consent(self, case_ref: str) -> Consent | None:
        """The consent in force for the case (its latest record), with this unit's own."""
        ...

    def record_capacity(self, capacity: ShelterCapacity, body_json: str) -> None:
        """Keep the report in the history and make it the shelter's current capacity."""
        ...

    def capacity(self, shelter: str) -> ShelterCapacity | None: ...

    def adjust_free_spaces(self, shelter: str, delta: int) -> ShelterCapacity:
        """Placements take spaces and departures give them back (never beyond the total)."""
        ...

    def presumed_aggressors(self, case_ref: str) -> frozenset[str]:
        """The agencies named presumed aggressor on the case and not lifted, as of this unit."""
        ...

    def record_aggressor(self, change: AggressorChange) -> None:
        """Name a presumed aggressor (a new row) or lift the one named (its row is closed)."""
        ...


class Ledger(Protocol):
    def unit(self) -> AbstractContextManager[LedgerUnit]:
        """A transaction: commits when the block ends normally, rolls back on an exception."""
        ...

    def last_link(self) -> tuple[int, str, str] | None:
        """(sequence, message id, hash) of the hash chain's head (see bus.domain.chain)."""
        ...


class SweepSource(Protocol):
    """What the deadline sweeper reads from the ledger."""

    def open_obligations(self, now: datetime) -> list[Obligation]:
        """Everything owed whose deadline has passed, with the rungs already fired."""
        ...

    def still_owed(self, obligation: Obligation) -> bool:
        """Re-checked right before a rung fires: not answered, fulfilled or recalled since."""
        ...

    def fired(self, obligation: Obligation) -> frozenset[EscalationLevel]: ...

    def upcoming_board_sessions(self, now: datetime) -> list[BoardSession]:
        """The sessions scheduled after ``now``, soonest first."""
        ...

    def board_consents(self, case_refs: Iterable[str]) -> dict[str, Consent]:
        """The consent in force for each of these cases that has one."""
        ...

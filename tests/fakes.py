"""In-memory implementations of the ports (bus.domain.ports), for fast tests with no server.

A ledger whose transaction applies on commit only, a bus that keeps what is published (and,
like JetStream, recognises a msg id it has seen), deliveries that remember how they were
settled, a capacity board and a clock moved by hand.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from bus.domain.aggressors import AggressorChange
from bus.domain.board import BoardSession, Consent
from bus.domain.capacity import ShelterCapacity
from bus.domain.federal import MECHANISM
from bus.domain.federal_clocks import CaseRequest, FederalObligation
from bus.domain.iachr import MeasureDates
from bus.domain.ladder import Obligation
from bus.domain.lifecycle import RequestState
from bus.domain.ports import (
    AttendanceRecord,
    BoardSessionRecord,
    ConsentRecord,
    CopyRecord,
    DeadLetterRecord,
    EscalationRecord,
    Handled,
    LedgerUnavailable,
    MessageRecord,
    OnStream,
    Published,
    PublishError,
    StoredMessage,
)
from schemas.tracking import AggressorAction, EscalationLevel


@dataclass
class LedgerState:
    handled: dict[int, Handled] = field(default_factory=dict)
    messages: dict[tuple[str, str], MessageRecord] = field(default_factory=dict)
    copies: list[CopyRecord] = field(default_factory=list)
    requests: dict[str, RequestState] = field(default_factory=dict)
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)
    escalations: list[EscalationRecord] = field(default_factory=list)
    sessions: dict[str, BoardSessionRecord] = field(default_factory=dict)
    attendance: list[AttendanceRecord] = field(default_factory=list)
    consents: list[ConsentRecord] = field(default_factory=list)
    capacities: dict[str, ShelterCapacity] = field(default_factory=dict)
    iachr_measures: dict[str, MeasureDates] = field(default_factory=dict)
    federal: dict[str, FederalObligation] = field(default_factory=dict)
    aggressors: list[AggressorChange] = field(default_factory=list)


def _fired_key(record: EscalationRecord) -> tuple[str, str, str, str | None, str]:
    return (record.request_id, record.agency, record.clock, record.commitment_id, record.level)


class MemoryUnit:
    """One transaction over a copy of the ledger's state (bus.domain.ports.LedgerUnit)."""

    def __init__(self, state: LedgerState) -> None:
        self.state = state

    def expect(
        self,
        stream_seqs: Iterable[int],
        message_keys: Iterable[tuple[str, str]] = (),
        request_ids: Iterable[str] = (),
    ) -> None:
        pass

    def handled(self, stream_seq: int) -> Handled | None:
        return self.state.handled.get(stream_seq)

    def stored_message(self, source: str, message_id: str) -> StoredMessage | None:
        record = self.state.messages.get((source, message_id))
        if record is None:
            return None
        raw = hashlib.sha256(record.body).hexdigest()
        return StoredMessage(
            source, message_id, record.nats_subject, record.stream_seq, raw, record.content_sha256
        )

    def add_copy(self, record: CopyRecord) -> None:
        self.state.copies.append(record)
        self.state.handled[record.stream_seq] = Handled(notice=None)

    def load_request(self, request_id: str) -> RequestState | None:
        return self.state.requests.get(request_id)

    def save_request(self, state: RequestState) -> None:
        self.state.requests[state.request_id] = state

    def add_message(self, record: MessageRecord) -> None:
        self.state.messages[(record.source, record.message_id)] = record
        self.state.handled[record.stream_seq] = Handled(notice=None)

    def add_dead_letter(self, record: DeadLetterRecord) -> None:
        self.state.dead_letters.append(record)
        self.state.handled[record.stream_seq] = Handled(notice=record.notice)

    def escalation_fired(self, record: EscalationRecord) -> bool:
        return any(_fired_key(e) == _fired_key(record) for e in self.state.escalations)

    def add_escalation(self, record: EscalationRecord) -> None:
        self.state.escalations.append(record)

    def save_board_session(self, record: BoardSessionRecord) -> None:
        self.state.sessions[record.session_id] = record

    def save_attendance(self, record: AttendanceRecord) -> None:
        self.state.attendance.append(record)

    def save_iachr_measure(self, measure: MeasureDates, message_id: str, at: datetime) -> None:
        self.state.iachr_measures[measure.measure] = measure

    def expect_cases(self, case_refs: Iterable[str]) -> None:
        pass

    def federal_obligations(self, case_ref: str) -> list[FederalObligation]:
        return [ob for ob in self.state.federal.values() if ob.case_ref == case_ref]

    def case_requests(self, case_ref: str) -> list[CaseRequest]:
        return [
            CaseRequest(s.request_id, s.type, s.urgency, s.sent_at)
            for s in self.state.requests.values()
            if s.case_ref == case_ref and s.source == MECHANISM
        ]

    def save_federal_obligation(self, obligation: FederalObligation) -> None:
        self.state.federal[obligation.obligation_id] = obligation

    def save_consent(self, record: ConsentRecord) -> None:
        self.state.consents.append(record)

    def consent(self, case_ref: str) -> Consent | None:
        found = [c for c in self.state.consents if c.case_ref == case_ref]
        if not found:
            return None
        latest = found[-1]
        return Consent(latest.case_ref, latest.given, frozenset(latest.agencies))

    def record_capacity(self, capacity: ShelterCapacity, body_json: str) -> None:
        self.state.capacities[capacity.shelter] = capacity

    def capacity(self, shelter: str) -> ShelterCapacity | None:
        return self.state.capacities.get(shelter)

    def adjust_free_spaces(self, shelter: str, delta: int) -> ShelterCapacity:
        now = self.state.capacities[shelter]
        free = max(0, min(now.total_spaces, now.free_spaces + delta))
        self.state.capacities[shelter] = adjusted = dataclasses.replace(now, free_spaces=free)
        return adjusted

    def presumed_aggressors(self, case_ref: str) -> frozenset[str]:
        flagged: set[str] = set()
        for change in self.state.aggressors:
            if change.case_ref == case_ref:
                named = change.action is AggressorAction.SET
                (flagged.add if named else flagged.discard)(change.agency)
        return frozenset(flagged)

    def record_aggressor(self, change: AggressorChange) -> None:
        self.state.aggressors.append(change)


class MemoryLedger:
    """A ledger in memory (bus.domain.ports.Ledger): a unit's changes apply when it ends
    normally, and none of them when it raises. ``unavailable`` makes the next units fail as
    a ledger that is down does; ``broken`` makes every unit raise it (a bug)."""

    def __init__(self) -> None:
        self.state = LedgerState()
        self.unavailable = 0  # how many of the next units find the ledger down
        self.broken: Exception | None = None
        self.commits = 0

    @contextmanager
    def unit(self) -> Iterator[MemoryUnit]:
        if self.unavailable:
            self.unavailable -= 1
            raise LedgerUnavailable("the ledger is restarting")
        if self.broken is not None:
            raise self.broken
        unit = MemoryUnit(copy.deepcopy(self.state))
        yield unit
        self.state = unit.state
        self.commits += 1

    def last_link(self) -> tuple[int, str, str] | None:
        return None


@dataclass(frozen=True)
class Sent:
    subject: str
    payload: bytes
    headers: Mapping[str, str]
    msg_id: str | None


class MemoryBus:
    """A stream in memory (bus.domain.ports.Transport): keeps every publish it confirms; a
    msg id seen before is a duplicate, as in JetStream's window. ``refuse`` publishes fail."""

    def __init__(self, stream: str = "MECHBUS") -> None:
        self.stream = stream
        self.sent: list[Sent] = []
        self.stored_messages: dict[int, OnStream] = {}
        self._ids: dict[str, int] = {}
        self.refuse = 0  # how many of the next publishes fail

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        msg_id: str | None = None,
    ) -> Published:
        if self.refuse:
            self.refuse -= 1
            raise PublishError(f"to {subject}: no responders")
        if msg_id is not None and msg_id in self._ids:
            return Published(self.stream, self._ids[msg_id], duplicate=True)
        self.sent.append(Sent(subject, payload, dict(headers or {}), msg_id))
        seq = len(self.sent)
        if msg_id is not None:
            self._ids[msg_id] = seq
        return Published(self.stream, seq)

    async def stored(self, stream_seq: int) -> OnStream | None:
        return self.stored_messages.get(stream_seq)

    def subjects(self) -> list[str]:
        return [s.subject for s in self.sent]


@dataclass
class FakeReceived:
    """A delivery (bus.domain.ports.Received) that remembers how it was settled."""

    subject: str
    data: bytes
    stream_seq: int
    stored_at: datetime
    attempt: int = 1
    settled: list[str] = field(default_factory=list)  # "ack", "nak 0.5", "progress"
    headers: Mapping[str, str] | None = None

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append(f"nak {delay}")

    async def in_progress(self) -> None:
        self.settled.append("progress")


class MemoryBoard:
    """The capacity bucket (bus.domain.ports.CapacityBoard)."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}

    async def put(self, shelter: str, document: bytes) -> None:
        self.documents[shelter] = document


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FixedObligations:
    """What the sweeper reads (bus.domain.ports.SweepSource), as a list; ``answer`` settles."""

    def __init__(self, obligations: Iterable[Obligation]) -> None:
        self.obligations = list(obligations)
        self.fired_levels: dict[str, set[EscalationLevel]] = {}
        self.answered: set[str] = set()

    def open_obligations(self, now: datetime) -> list[Obligation]:
        return [o for o in self.obligations if o.due_at <= now]

    def still_owed(self, obligation: Obligation) -> bool:
        return obligation.request_id not in self.answered

    def fired(self, obligation: Obligation) -> frozenset[EscalationLevel]:
        return frozenset(self.fired_levels.get(obligation.request_id, set()))

    def upcoming_board_sessions(self, now: datetime) -> list[BoardSession]:
        return []

    def board_consents(self, case_refs: Iterable[str]) -> dict[str, Consent]:
        return {}

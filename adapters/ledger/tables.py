"""The ledger's SQL tables (SQLModel), shared by SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as _sql
from sqlmodel import Field, SQLModel

from adapters.ledger.utc import utc_time as _time
from bus.domain.lifecycle import UNANSWERED, RecipientStatus

# A recipient whose acknowledgement or answer is still owed now. Said in one literal text,
# the index's and the queries' alike: SQLite serves a query from a partial index only when
# the query repeats the index's condition word for word (a bound parameter would not do).
OWED_NOW = sorted(s.value for s in (*UNANSWERED, RecipientStatus.ACKNOWLEDGED))
OWED_NOW_SQL = "status IN ({})".format(", ".join(f"'{s}'" for s in OWED_NOW))


class MessageRow(SQLModel, table=True):
    """Every accepted message, once, as received (the federal record)."""

    __tablename__ = "messages"
    # An id is its sender's: two senders can never make each other's message a duplicate.
    __table_args__ = (
        UniqueConstraint("source", "message_id", name="uq_messages_source_message_id"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=100, index=True)
    type: str = Field(max_length=100, index=True)
    family: str = Field(max_length=20)
    source: str = Field(max_length=64, index=True)
    thread_id: str = Field(max_length=100, index=True)
    causation_id: str | None = Field(default=None, max_length=100)
    case_ref: str | None = Field(default=None, max_length=40, index=True)
    nats_subject: str = Field(max_length=300)
    stream_seq: int = Field(unique=True)
    sent_at: datetime = _time(nullable=False)
    recorded_at: datetime = _time(nullable=False)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # without personal data
    # data.personal, sealed with the deployment key (ledger.sealing); NULL when there is none
    personal_sealed: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary, nullable=True)
    )
    raw_sha256: str = Field(default="", max_length=64)  # digest of the bytes as received
    # the tamper-evident chain (bus.domain.chain): the previous row's hash and this row's
    prev_hash: str = Field(default="", max_length=64)
    row_hash: str = Field(default="", max_length=64)
    # digest of the message without data.personal (bus.domain.redaction.content_digest): what every
    # recipient's copy of a federal message has in common
    content_sha256: str = Field(default="", max_length=64)


class RequestRow(SQLModel, table=True):
    __tablename__ = "requests"

    request_id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=100, index=True)
    source: str = Field(max_length=64)
    case_ref: str | None = Field(default=None, max_length=40, index=True)
    urgency: str = Field(max_length=20)
    sent_at: datetime = _time(nullable=False, index=True)
    expires: datetime | None = _time()
    updated_at: datetime | None = _time()
    closed_at: datetime | None = _time()
    iachr_precautionary_measure: str | None = Field(default=None, max_length=40, index=True)
    board_session_id: str | None = Field(default=None, max_length=64)
    # protection measures: the legal limit on any commitment to implement them (0008)
    legal_limit: datetime | None = _time()


class RecipientRow(SQLModel, table=True):
    """Per request and recipient: where that agency's answer stands."""

    __tablename__ = "request_recipients"
    __table_args__ = (
        UniqueConstraint("request_id", "agency"),
        # "unanswered, most overdue first" is a range scan of this index, however large
        # the record grows.
        Index("ix_recipients_status_ack_due", "status", "ack_due_at"),
        Index("ix_recipients_status_answer_due", "status", "answer_due_at"),
        # the same, filtered by state or by agency
        Index("ix_recipients_state_status_ack_due", "state", "status", "ack_due_at"),
        Index("ix_recipients_agency_status_ack_due", "agency", "status", "ack_due_at"),
        # the scorecard: a period of requests; answers given after a reported moment, with
        # the deadlines that say, in the index, whether they were overdue at it
        Index("ix_recipients_sent", "sent_at"),
        Index("ix_recipients_acknowledged", "acknowledged_at", "ack_due_at"),
        Index("ix_recipients_decided", "decided_at", "ack_due_at", "answer_due_at"),
        # ... and what is owed now, alone: open overdue counted from this index (a few rows
        # of the record, every column the count reads)
        Index(
            "ix_recipients_owed",
            "agency",
            "sent_at",
            "ack_due_at",
            "acknowledged_at",
            "answer_due_at",
            "decided_at",
            "kind",
            "status",
            sqlite_where=_sql(OWED_NOW_SQL),
            postgresql_where=_sql(OWED_NOW_SQL),
        ),
        # the scorecard's per-day figures: acknowledgements still to fall due after a moment
        Index("ix_recipients_ack_due", "ack_due_at"),
        # ... and the values of one bin of time to acknowledge, for an exact median
        Index(
            "ix_recipients_agency_seconds",
            "agency",
            "seconds_to_acknowledge",
            "sent_at",
            "acknowledged_at",
            "kind",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.request_id", max_length=100, index=True)
    position: int = 0
    agency: str = Field(max_length=64)
    status: str = Field(max_length=20)
    # Copied from the request and the registry so the views filter without joins.
    kind: str = Field(default="", max_length=40, index=True)
    urgency: str = Field(default="ordinary", max_length=20)
    state: str | None = Field(default=None, max_length=3)
    sent_at: datetime | None = _time()
    ack_due_at: datetime | None = _time()
    answer_due_at: datetime | None = _time()
    delivered_at: datetime | None = _time()
    acknowledged_at: datetime | None = _time()
    acknowledged_by: str | None = Field(default=None, max_length=200)
    seconds_to_acknowledge: float | None = None  # kept for the scorecard's median
    decided_at: datetime | None = _time()
    decision_note: str | None = Field(default=None, max_length=200)


class CommitmentRow(SQLModel, table=True):
    __tablename__ = "commitments"
    __table_args__ = (
        UniqueConstraint("request_id", "commitment_id"),
        Index("ix_commitments_status_due", "status", "due"),
        # the scorecard: commitments settled on a day (their due date, or the day they
        # ended), and those open at a moment, counted by agency from the index alone
        Index("ix_commitments_due", "due"),
        Index("ix_commitments_ended", "ended_at", "agency", "due", "made_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.request_id", max_length=100, index=True)
    commitment_id: str = Field(max_length=64)
    agency: str = Field(max_length=64, index=True)
    action: str = Field(sa_column=Column(Text, nullable=False))
    due: datetime = _time(nullable=False)
    made_at: datetime = _time(nullable=False)
    status: str = Field(max_length=30)
    last_progress_at: datetime | None = _time()
    ended_at: datetime | None = _time()
    # the latest moment the law allows (bus.domain.legal_limit): the views flag a later due
    # date and the sweeper chases the commitment at the earlier of the two (0008)
    legal_limit: datetime | None = _time()


class MessageCopyRow(SQLModel, table=True):
    """A stream message that is a message already recorded: another recipient's copy of a
    federal message, or the same bytes sent again. Every stream sequence is accounted for in
    ``messages``, here or in ``dead_letters``."""

    __tablename__ = "message_copies"

    id: int | None = Field(default=None, primary_key=True)
    stream_seq: int = Field(unique=True)
    source: str = Field(max_length=64)
    message_id: str = Field(max_length=100, index=True)
    nats_subject: str = Field(max_length=300)
    kind: str = Field(max_length=20)  # bus.domain.recording.CopyKind
    recorded_at: datetime = _time(nullable=False)


class DeadLetterRow(SQLModel, table=True):
    """Bad input, kept with its reason and the notice its sender was sent."""

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    stream_seq: int = Field(unique=True)
    nats_subject: str = Field(max_length=300)
    sender: str | None = Field(default=None, max_length=64, index=True)
    reason: str = Field(max_length=40, index=True)
    detail: str = Field(sa_column=Column(Text, nullable=False))
    errors_json: str = Field(sa_column=Column(Text, nullable=False))
    message_id: str | None = Field(default=None, max_length=100)
    received_at: datetime = _time(nullable=False, index=True)
    # the input as received, sealed whole: bad input may carry personal data anywhere
    body_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    notice: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class EscalationRow(SQLModel, table=True):
    """Each rung of the ladder that fired, once per obligation (the sweeper's memory)."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("request_id", "agency", "clock", "commitment_key", "level"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=100, index=True)
    agency: str = Field(max_length=64, index=True)
    clock: str = Field(max_length=40)
    # "" rather than NULL for request-level clocks: NULLs never collide in a unique key.
    commitment_key: str = Field(default="", max_length=64)
    level: str = Field(max_length=30)
    message_id: str = Field(max_length=100, unique=True)
    to_agency: str = Field(max_length=64)
    due_at: datetime = _time(nullable=False)
    fired_at: datetime = _time(nullable=False, index=True)
    board_session_id: str | None = Field(default=None, max_length=64, index=True)
    authority_to_summon: str | None = Field(default=None, max_length=64)


class BoardSessionRow(SQLModel, table=True):
    __tablename__ = "board_sessions"

    session_id: str = Field(primary_key=True, max_length=64)
    scheduled_at: datetime = _time(nullable=False, index=True)
    venue: str = Field(max_length=200)


class AttendanceRow(SQLModel, table=True):
    __tablename__ = "board_attendance"
    __table_args__ = (UniqueConstraint("session_id", "agency"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=64, index=True)
    agency: str = Field(max_length=64, index=True)
    attended: bool
    recorded_at: datetime = _time(nullable=False)


class BoardConsentRow(SQLModel, table=True):
    """Each time the beneficiary gave or withdrew consent to invite authorities to the Board
    about their case; the latest row of a case is in force. No names: the case number only."""

    __tablename__ = "board_consents"

    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(max_length=40, index=True)
    given: bool
    # agency ids separated by spaces; empty: every state authority
    agencies: str = Field(sa_column=Column(Text, nullable=False))
    recorded_by: str = Field(max_length=200)
    message_id: str = Field(max_length=100)
    recorded_at: datetime = _time(nullable=False)


class ShelterCapacityRow(SQLModel, table=True):
    """Each shelter's current capacity; ``free_spaces`` moves with placements."""

    __tablename__ = "shelter_capacity"

    shelter: str = Field(primary_key=True, max_length=64)
    region: str = Field(max_length=200)
    total_spaces: int
    free_spaces: int
    spaces_24h: int
    spaces_72h: int
    accepts_families: bool
    accepts_children: bool
    accessible: bool
    security_level: str = Field(max_length=30)
    max_stay_days: int
    services_json: str = Field(sa_column=Column(Text, nullable=False))
    reported_at: datetime = _time(nullable=False)


class CapacityReportRow(SQLModel, table=True):
    """Every capacity report a shelter made (the history)."""

    __tablename__ = "capacity_reports"

    id: int | None = Field(default=None, primary_key=True)
    shelter: str = Field(max_length=64, index=True)
    reported_at: datetime = _time(nullable=False, index=True)
    body_json: str = Field(sa_column=Column(Text, nullable=False))


class OutboxRow(SQLModel, table=True):
    """A message a federal service sent, kept until JetStream confirmed it (the outbox)."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=100, unique=True)
    type: str = Field(max_length=100)
    source: str = Field(max_length=64)
    created_at: datetime = _time(nullable=False)
    # the whole message, sealed: it goes out with its personal fields to those who may know
    body_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    published_at: datetime | None = _time(index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=200)


class DashboardUserRow(SQLModel, table=True):
    """A federal staff account of the dashboard (argon2 hash, never the password)."""

    __tablename__ = "dashboard_users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=200)
    created_at: datetime = _time(nullable=False)
    disabled: bool = False


class DashboardLoginRow(SQLModel, table=True):
    """One login attempt to the dashboard, successful or not (the audit trail)."""

    __tablename__ = "dashboard_logins"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(nullable=False, index=True)
    name: str = Field(max_length=64, index=True)  # as typed, cut to 64 characters
    success: bool
    reason: str = Field(max_length=40)  # ok, unknown_user, bad_password, disabled, locked
    client: str | None = Field(default=None, max_length=64)


class NotificationAttemptRow(SQLModel, table=True):
    """Each attempt to hand a message to an agency outside NATS (a webhook POST, an email),
    and the final outcome of each (``final``: delivered, or given up)."""

    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_notification_attempts_message", "message_id", "agency"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=10)  # webhook, email
    agency: str = Field(max_length=64, index=True)
    message_id: str = Field(max_length=100)
    attempt: int
    at: datetime = _time(nullable=False, index=True)
    outcome: str = Field(max_length=20)  # delivered, failed, gave_up, sent
    final: bool = False
    status_code: int | None = None
    elapsed_ms: int | None = None
    detail: str | None = Field(default=None, max_length=200)


class IachrMeasureRow(SQLModel, table=True):
    """Each IACHR precautionary measure's current dates: the latest ``iachr_measure`` message
    for its MC number (the earlier ones stay in ``messages``)."""

    __tablename__ = "iachr_measures"

    measure: str = Field(primary_key=True, max_length=12)  # MC-123-24
    granted_on: date
    notified_on: date  # SRE's notice to SEGOB
    state: str = Field(max_length=3, index=True)
    beneficiaries: int
    case_ref: str | None = Field(default=None, max_length=40, index=True)
    message_id: str = Field(max_length=100)
    updated_at: datetime = _time(nullable=False)


class FederalObligationRow(SQLModel, table=True):
    """One of the Mechanism's own obligations on a case (bus.domain.federal_clocks): started by
    what the law says starts its clock, met by what discharges it; met late is kept as such."""

    __tablename__ = "federal_obligations"
    # "open, most overdue first" (the sweeper, the pending list) is a range scan of this index
    __table_args__ = (Index("ix_federal_obligations_met_due", "met_at", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    obligation_id: str = Field(max_length=40, unique=True)
    case_ref: str = Field(max_length=40, index=True)
    clock: str = Field(max_length=40)
    owner: str = Field(max_length=64, index=True)
    # "" rather than NULL when the clock is the case's alone (not one Board decision's)
    decision_id: str = Field(default="", max_length=64)
    urgency: str | None = Field(default=None, max_length=20)
    state: str | None = Field(default=None, max_length=3)
    started_at: datetime | None = _time(index=True)
    due_at: datetime | None = _time()
    met_at: datetime | None = _time()
    started_by: str | None = Field(default=None, max_length=100)
    met_by: str | None = Field(default=None, max_length=100)


class PresumedAggressorRow(SQLModel, table=True):
    """An agency named presumed aggressor on a case: who named it (the sender and the official
    role), when, and when and by whom it was lifted. A lifted row stays; naming the agency
    again adds a row, so the record keeps every decision."""

    __tablename__ = "presumed_aggressors"
    __table_args__ = (Index("ix_presumed_aggressors_case_agency", "case_ref", "agency"),)

    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(max_length=40)
    agency: str = Field(max_length=64, index=True)
    set_by: str = Field(max_length=64)
    set_by_role: str = Field(max_length=200)
    set_at: datetime = _time(nullable=False)
    set_message_id: str = Field(max_length=100, unique=True)
    lifted_by: str | None = Field(default=None, max_length=64)
    lifted_by_role: str | None = Field(default=None, max_length=200)
    lifted_at: datetime | None = _time()
    lifted_message_id: str | None = Field(default=None, max_length=100, unique=True)


class PersonalAccessRow(SQLModel, table=True):
    """Each time a person's details were sought or shown: who (the account or the operator),
    in which role, what they did (a search by name, a case opened with its people, a case file
    printed with them), on which cases and how many matches. Never what was searched for: the
    name a caseworker typed is personal data itself."""

    __tablename__ = "personal_access"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(nullable=False, index=True)
    actor: str = Field(max_length=100, index=True)
    role: str = Field(max_length=40)
    channel: str = Field(max_length=20)  # cli, dashboard
    action: str = Field(max_length=40)  # person_search, case_personal, case_file_personal
    case_refs: str = Field(default="", max_length=2000)  # space-separated, the cases touched
    matches: int = 0


class PersonIndexRow(SQLModel, table=True):
    """The blind index of people named in recorded messages: for each person, a keyed hash
    (``Sealer.blind``) of the whole name and one of each name word, never the name. A search
    hashes what was typed the same way and looks the hashes up here (0012)."""

    __tablename__ = "person_index"
    __table_args__ = (
        UniqueConstraint("source", "message_id", "person", "token", name="uq_person_index_entry"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, index=True)  # hex HMAC-SHA256
    kind: str = Field(max_length=4)  # name (the whole name) or word (one word of it)
    person: int = 0  # which person of the message (its details may list several)
    source: str = Field(max_length=64)
    message_id: str = Field(max_length=100)
    request_id: str = Field(max_length=100)  # the message's thread
    case_ref: str | None = Field(default=None, max_length=40)


class RequestTextRow(SQLModel, table=True):
    """What a caseworker may search for in each message of a request's thread: its text values
    (measures, instructions, facts, steps, committed actions), case folded and without accents,
    never personal details (0012)."""

    __tablename__ = "request_text"
    __table_args__ = (UniqueConstraint("source", "message_id", name="uq_request_text_message"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=100, index=True)
    source: str = Field(max_length=64)
    message_id: str = Field(max_length=100)
    text: str = Field(sa_column=Column(Text, nullable=False))


class HubLeaseRow(SQLModel, table=True):
    """Which hub records into this ledger, until when, and its fencing epoch: one row, named
    ``hub``, written only through adapters.ledger.lease (0013). Times are seconds since the
    Unix epoch by the database's clock, so the hubs' own clocks never matter."""

    __tablename__ = "hub_lease"

    name: str = Field(primary_key=True, max_length=20)
    holder: str = Field(max_length=200)  # "mechbus hub pid N on HOST"
    epoch: int  # bumped by each take: a commit fenced at another epoch is refused
    taken_at: float
    expires_at: float


# The scorecard's figures of one day or one month and one agency (0014): requests by the day
# they were sent (UTC, as the scorecard's months), commitments by the day they were settled,
# as the record stands, each counted in its day and in its month; adapters.ledger.aggregates
# keeps them in each transaction that changes a request. ``hours_NN`` count acknowledgements
# by how long they took (aggregates.HOUR_EDGES): a median cannot be summed, a histogram can.
# A Core table because its columns are generated.
SCORECARD_FIGURES = (
    "received",
    "acknowledged",
    "acknowledgements_due",
    "acknowledged_on_time",
    "commitments_settled",
    "commitments_kept",
)
HOUR_BINS = 24
SCORECARD_COLUMNS = SCORECARD_FIGURES + tuple(f"hours_{i:02d}" for i in range(HOUR_BINS))
scorecard_periods = Table(
    "scorecard_periods",
    SQLModel.metadata,
    Column("span", String(length=5), primary_key=True),  # "day" or "month"
    Column("first_day", Date(), primary_key=True),
    Column("agency", String(length=64), primary_key=True),
    *(Column(name, Integer(), nullable=False) for name in SCORECARD_COLUMNS),
)

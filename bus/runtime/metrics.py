"""The Prometheus metrics every mechbus process exposes, declared once.

Names and labels follow Prometheus' conventions (``mechbus_`` prefix, ``_total`` counters,
base units). Labels take only bounded values from the contract and the registry: a message
type, a refusal reason, a rung, a Mexican state's code, an outcome. Never a person, a case
number, a message id or anything an agency chooses freely (an unknown type is ``unknown``).
What the ledger knows (open requests, the outbox, the lease) is read at scrape time by
adapters.observability; what happens in the running bus is counted here as it happens.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from schemas.messages import MESSAGE_TYPES

UNKNOWN = "unknown"


def type_label(type_name: str | None) -> str:
    """A message type as a label: one of the contract's, or ``unknown`` (whatever was sent)."""
    return type_name if type_name in MESSAGE_TYPES else UNKNOWN


MESSAGES_RECORDED = Counter(
    "mechbus_messages_recorded",
    "Messages the hub recorded in the ledger, by message type.",
    ["type"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "mechbus_messages_dead_lettered",
    "Messages the hub refused and kept as dead letters, by message type and reason.",
    ["type", "reason"],
)
LEDGER_COMMIT_SECONDS = Histogram(
    "mechbus_ledger_commit_seconds",
    "Time to record one batch of deliveries in one ledger transaction.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ESCALATIONS_FIRED = Counter(
    "mechbus_escalations_fired",
    "Escalation rungs the deadline sweeper published, by rung.",
    ["rung"],
)
OUTBOX_RELAYED = Counter(
    "mechbus_outbox_relayed",
    "Messages the outbox relay handled, by outcome (published, failed, discarded: its case "
    "names a recipient presumed aggressor).",
    ["outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "mechbus_webhook_attempts",
    "Webhook deliveries the bridge attempted, by outcome.",
    ["outcome"],
)
EMAIL_ATTEMPTS = Counter(
    "mechbus_email_attempts",
    "Email notices attempted (the bridge's notices and the daily digest), by outcome.",
    ["outcome"],
)
HUB_ACTIVE = Gauge(
    "mechbus_hub_active",
    "1 while this process is the active hub (it holds the ledger's lease), else 0.",
)
HUB_TAKEOVERS = Counter(
    "mechbus_hub_takeovers",
    "Times this process took the ledger's lease and became the active hub.",
)

# Read at scrape time from the ledger and the bus by adapters.observability (name: help).
REQUESTS_UNANSWERED = "mechbus_requests_unanswered"
REQUESTS_UNANSWERED_OLDEST = "mechbus_requests_unanswered_oldest_age_seconds"
OUTBOX_WAITING = "mechbus_outbox_waiting_messages"
CONSUMER_PENDING = "mechbus_consumer_pending_messages"
CONSUMER_ACK_PENDING = "mechbus_consumer_ack_pending_messages"
CONSUMER_REDELIVERED = "mechbus_consumer_redelivered_messages"
LEASE_HOLDER = "mechbus_hub_lease_holder_info"
SCRAPED = {
    REQUESTS_UNANSWERED: "Requests a recipient has not answered yet, by the Mexican state "
    "(its code) whose agency owes the answer.",
    REQUESTS_UNANSWERED_OLDEST: "Age of the oldest unanswered request, by state.",
    OUTBOX_WAITING: "Messages kept in the ledger's outbox, not published yet.",
    CONSUMER_PENDING: "Messages in the stream the consumer has not been delivered yet.",
    CONSUMER_ACK_PENDING: "Messages delivered to the consumer and not acknowledged yet.",
    CONSUMER_REDELIVERED: "Messages delivered to the consumer more than once and not "
    "acknowledged yet.",
    LEASE_HOLDER: "The hub holding the ledger's lease (label holder: pid and host), as this "
    "process last saw it.",
}

__all__ = [
    "CONSUMER_ACK_PENDING",
    "CONSUMER_PENDING",
    "CONSUMER_REDELIVERED",
    "EMAIL_ATTEMPTS",
    "ESCALATIONS_FIRED",
    "HUB_ACTIVE",
    "HUB_TAKEOVERS",
    "LEASE_HOLDER",
    "LEDGER_COMMIT_SECONDS",
    "MESSAGES_DEAD_LETTERED",
    "MESSAGES_RECORDED",
    "OUTBOX_RELAYED",
    "OUTBOX_WAITING",
    "REQUESTS_UNANSWERED",
    "REQUESTS_UNANSWERED_OLDEST",
    "SCRAPED",
    "UNKNOWN",
    "WEBHOOK_ATTEMPTS",
    "type_label",
]

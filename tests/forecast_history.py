"""A ledger with a known six-week history, recorded through the hub's own recording: the
caseload projection's tests read it back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bus.domain import subjects
from bus.domain.policy import Policy
from bus.domain.ports import Delivery, Ledger
from bus.domain.recording import record_batch
from bus.domain.rules import Rules
from tests import builders as b

WEEKS = 6
NOW = b.T0 + timedelta(weeks=WEEKS)
# New cases each week; Guerrero acknowledges within the hour, Tamaulipas never answers.
INTAKE = (2, 1, 3, 0, 1, 1)
CLOSED_IN_WEEK = {3: 1}  # one case of the first week recalled in the fourth
RULES = Rules(b.REGISTRY, Policy.load())


def fill(ledger: Ledger, now: datetime = NOW) -> None:
    """Record the history ending at ``now``: each case one request to gro.government and one to
    tam.government."""
    start = now - timedelta(weeks=WEEKS)
    seq = 0

    def record(message: Any, at: datetime) -> None:
        nonlocal seq
        seq += 1
        route = subjects.routes(message, b.REGISTRY)[0][0]
        record_batch(ledger, [Delivery(route, message.to_json(), seq)], at, RULES)

    number = 0
    first: list[str] = []
    for week, count in enumerate(INTAKE):
        for i in range(count):
            number += 1
            at = start + timedelta(weeks=week, hours=i + (0 if week == 0 and i == 0 else 1))
            case = f"MPDDHP-2026-{number:04d}"
            for agency in ("gro.government", "tam.government"):
                request = b.patrol_request(agency, at=at, subject=case)
                record(request, at)
                if agency == "gro.government":
                    record(
                        b.acknowledgement(request.id, agency, at + timedelta(minutes=30)),
                        at + timedelta(minutes=30),
                    )
                if week == 0:
                    first.append(request.id)
    closing = start + timedelta(weeks=3, hours=2)
    for request_id, agency in zip(first[:2], ("gro.government", "tam.government"), strict=True):
        record(b.recall(request_id, agency, closing), closing)

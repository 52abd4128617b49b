"""The ``rejected`` notice that tells a sender which of its messages the hub refused, and
why. Pure. Its fields always fit: the detail and field errors are made printable and cut,
never quoting the body, and the refused message is named by its stream sequence."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from bus.domain import bounds, intake
from bus.domain.federal import HUB
from bus.domain.ports import Delivery
from schemas.envelope import MESSAGE_ID_PATTERN
from schemas.tracking import FieldError, Rejected, RejectedBody


def rejected_notice(delivery: Delivery, refusal: intake.Refusal, now: datetime) -> Rejected | None:
    """The ``rejected`` notice for the sender, with an id fixed by the input it is about.

    A redelivered bad message therefore yields the same notice id, and JetStream's duplicate
    window (and the ledger's unique id) keep the sender from hearing about it twice.
    """
    if refusal.sender is None or refusal.sender == HUB:
        return None  # nobody to tell, and the hub never answers its own notices
    # surrogateescape: a subject that was not UTF-8 hashes as the bytes it arrived as
    seed = f"{delivery.subject}\0{delivery.stream_seq}\0".encode("utf-8", "surrogateescape")
    digest = hashlib.sha256(seed + delivery.data).hexdigest()
    valid_id = refusal.message_id if _is_message_id(refusal.message_id) else None
    return Rejected(
        id=f"rej-{digest[:32]}",
        source=HUB,
        time=now,
        recipients=(refusal.sender,),
        causation_id=valid_id,
        data=RejectedBody(
            reason=refusal.reason,
            detail=_fit(refusal.detail, 4000) or refusal.reason.value,
            errors=tuple(
                FieldError(location=_fit(loc, 200), problem=_fit(problem, 500))
                for loc, problem in refusal.errors
            ),
            rejected_id=refusal.message_id,
            rejected_subject=kept_subject(delivery.subject),
            stream_sequence=delivery.stream_seq,
        ),
    )


def kept_subject(subject: str) -> str:
    """The subject as the ledger and the notice keep it: printable, cut to the column's length
    (a longer one was refused for its length, which the detail gives)."""
    return bounds.printable(subject)[: bounds.MAX_SUBJECT_LENGTH]


def _fit(text: str, limit: int) -> str:
    return bounds.printable(text).strip()[:limit]


def _is_message_id(value: str | None) -> bool:
    return value is not None and re.fullmatch(MESSAGE_ID_PATTERN, value) is not None

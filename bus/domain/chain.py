"""The tamper-evident record: every ledger message row carries the hash of the row before it.

One chain over all messages, in the order the ledger recorded them (its sequence): the hub is
the ledger's single writer. A row's hash covers the previous hash and the row's content (its
body by digest), so changing, inserting or deleting a row breaks the chain at that row, and
``verify`` names the first broken link. Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

GENESIS = "0" * 64


@dataclass(frozen=True)
class Link:
    """A recorded message as the chain sees it."""

    seq: int
    message_id: str
    type: str
    source: str
    nats_subject: str
    stream_seq: int
    sent_at: datetime
    recorded_at: datetime
    body: bytes
    prev_hash: str
    row_hash: str


def link_hash(
    prev_hash: str,
    message_id: str,
    type_: str,
    source: str,
    nats_subject: str,
    stream_seq: int,
    sent_at: datetime,
    recorded_at: datetime,
    body: bytes,
) -> str:
    content = json.dumps(
        [
            prev_hash,
            message_id,
            type_,
            source,
            nats_subject,
            stream_seq,
            sent_at.isoformat(),
            recorded_at.isoformat(),
            hashlib.sha256(body).hexdigest(),
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    seq: int
    message_id: str
    problem: str


def verify(links: Iterable[Link]) -> tuple[int, Break | None]:
    """Walk the chain in order; returns how many links held and the first break, if any."""
    expected_prev = GENESIS
    checked = 0
    for link in links:
        if link.prev_hash != expected_prev:
            return checked, Break(
                link.seq,
                link.message_id,
                "does not follow the row before it (a row was removed, inserted or reordered)",
            )
        recomputed = link_hash(
            link.prev_hash,
            link.message_id,
            link.type,
            link.source,
            link.nats_subject,
            link.stream_seq,
            link.sent_at,
            link.recorded_at,
            link.body,
        )
        if recomputed != link.row_hash:
            return checked, Break(link.seq, link.message_id, "was changed after it was recorded")
        expected_prev = link.row_hash
        checked += 1
    return checked, None

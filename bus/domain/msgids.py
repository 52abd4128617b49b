"""Message ids with a fixed meaning, and the Nats-Msg-Id of each federal copy. Pure.

JetStream's duplicate window is keyed by the ``Nats-Msg-Id`` header alone, across the whole
stream, and any publisher may set any header. So a header that someone else can compute is a
header they can use first, making the real message a "duplicate" that the stream drops:

- messages on an agency's outbox (``mech.v1.from.<agency>.*``) carry no header at all: the hub
  recognises a resend itself (same sender, subject and bytes; see bus.domain.recording.CopyKind), so
  there is nothing for another agency to collide with;
- each recipient's copy of a federal message carries an HMAC of (id, recipient, bytes) under
  the deployment's key, so retries of a copy collapse in the window but no agency can compute
  it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

RECEIPT_PREFIX = "rcpt-"


def receipt_id(request_id: str, agency: str) -> str:
    """A delivery receipt's fixed id: one per request and recipient, so a receipt sent again
    (the request redelivered, or another client of the same agency) is recorded once. Ids are
    scoped by sender, so another agency computing it gains nothing."""
    digest = hashlib.sha256(f"{request_id}\0{agency}".encode()).hexdigest()
    return f"{RECEIPT_PREFIX}{digest[:32]}"


class CopyIds:
    """The ``Nats-Msg-Id`` of each recipient's copy of a federal message."""

    KEY_BYTES = 32

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the copy-id key must be at least 16 bytes")
        self._key = key

    @classmethod
    def ephemeral(cls) -> CopyIds:
        """A key of this process only: retries within it still collapse; a deployment passes
        its own key so that a relay by another process collapses too."""
        return cls(secrets.token_bytes(cls.KEY_BYTES))

    def header(self, copy_key: str, payload: bytes) -> str:
        """Over the copy and its bytes: a retry of the same copy collapses in the window, while
        a different message sent under a used id reaches the hub, which refuses it with a
        notice instead of the stream dropping it unseen."""
        mac = hmac.new(self._key, copy_key.encode() + b"\0" + payload, hashlib.sha256)
        return f"cp-{mac.hexdigest()[:40]}"

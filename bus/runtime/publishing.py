"""Publishing a message's copies through a Publisher, each with the msg id its copy key gives.

What each recipient receives is decided in the domain (bus.domain.copies); here each copy gets
its ``Nats-Msg-Id`` and is published, waiting for its confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping

from bus.domain.copies import recipient_copies
from bus.domain.msgids import CopyIds
from bus.domain.placement import Release
from bus.domain.ports import Published, Publisher, PublishError
from bus.runtime import tracing
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry, active_registry

_PROCESS_COPY_IDS = CopyIds.ephemeral()


async def publish_message(
    publisher: Publisher,
    message: Envelope,
    *,
    copy_ids: CopyIds | None = None,
    registry: AgencyRegistry | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[Published]:
    """Publish ``message`` on each subject its sender publishes it on and wait for every
    confirmation.

    Each copy carries ``headers`` (an answer: the trace context of its request) or else the
    current span's trace context when tracing is on (bus.runtime.tracing).

    Each recipient's copy of a federal message carries a ``Nats-Msg-Id`` only the deployment
    can compute (``copy_ids``, the deployment's key; without one, this process's), so a retry
    after a lost PubAck is absorbed by the stream's duplicate window and the PubAck says
    ``duplicate``. Messages on an agency's outbox carry none: the hub recognises a resend.
    """
    what = f"{message.type} {message.id}"
    known = registry or active_registry()  # the process's, unless the caller has its own
    copies = recipient_copies(message, known)
    carried = {**tracing.context_headers(), **(headers or {})}
    return [await send(publisher, copy, copy_ids, what, carried) for copy in copies]


async def publish_release(
    publisher: Publisher, release: Release, *, copy_ids: CopyIds | None = None
) -> Published:
    """Publish what the hub lets out after recording a placement, as derived (the same bytes
    and copy key make a second publish after a crash a duplicate), and wait for the PubAck."""
    return await send(publisher, release, copy_ids, "release")


async def send(
    publisher: Publisher,
    copy: Release,
    copy_ids: CopyIds | None,
    what: str,
    headers: Mapping[str, str] | None = None,
) -> Published:
    """One copy, with the Nats-Msg-Id its copy key gives it (none on an outbox)."""
    ids = copy_ids or _PROCESS_COPY_IDS
    key = copy.copy_key
    msg_id = ids.header(key, copy.payload) if key else None
    try:
        return await publisher.publish(
            copy.subject, copy.payload, headers=headers or None, msg_id=msg_id
        )
    except PublishError as exc:
        raise PublishError(f"{what} {exc}") from (exc.__cause__ or exc)

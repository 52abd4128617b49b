"""Connecting to NATS, declaring the stream and consumers, and publishing with a PubAck."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

from bus.domain import redaction, subjects
from bus.domain.errors import TransportError
from bus.domain.msgids import CopyIds
from bus.domain.placement import Release
from bus.domain.streams import CAPACITY_BUCKET, ConsumerSpec, StreamSpec
from bus.domain.subjects import inbox_prefix
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry, active_registry

log = logging.getLogger("mechbus.nats")

ErrorCallback = Callable[[Exception], Awaitable[None]]


async def connect(
    url: str | list[str],
    *,
    name: str,
    agency: str | None = None,
    error_cb: ErrorCallback | None = None,
    **options: Any,
) -> Client:
    """Connect, retrying forever on loss (nats-py gives up after ~2 minutes by default).

    ``url`` may list several servers (a list, or one string separated by commas as the nats
    tools accept): the client picks any, and moves to another when its server goes away.
    """

    async def _log_error(exc: Exception) -> None:
        log.warning("nats error on %s: %s", name, exc)
        if error_cb is not None:
            await error_cb(exc)

    options.setdefault("max_reconnect_attempts", -1)
    options.setdefault("reconnect_time_wait", 0.5)
    options.setdefault("connect_timeout", 5)
    if agency is not None:
        options.setdefault("inbox_prefix", inbox_prefix(agency))
    servers = url if isinstance(url, list) else url.split(",")
    nc = await nats.connect(servers=servers, name=name, error_cb=_log_error, **options)
    read_any_subject(nc)
    return nc


def read_any_subject(nc: Client) -> None:
    """Let ``nc`` receive messages whose subject is not UTF-8.

    nats-server stores whatever bytes a publisher puts in a subject, but nats-py decodes each
    delivered subject strictly, and a UnicodeDecodeError ends the connection's read loop for
    good: one such message on an agency's own outbox would stall the hub. Undecodable bytes
    become lone surrogates instead, which intake refuses as ``wrong_subject``.
    """

    def build_message(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: dict[str, str] | None
    ) -> Any:
        return nc.msg_class(
            subject=subject.decode("utf-8", "surrogateescape"),
            reply=reply.decode("utf-8", "surrogateescape"),
            data=data,
            headers=headers,
            _client=nc,
            _sid=sid,
        )

    nc._build_message = build_message  # type: ignore[method-assign]


def stream_config(spec: StreamSpec) -> api.StreamConfig:
    return api.StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        duplicate_window=spec.duplicate_window_seconds,
        max_msg_size=spec.max_msg_size,
        num_replicas=spec.replicas,
        max_age=spec.max_age_seconds,
    )


Info = TypeVar("Info", api.StreamInfo, api.ConsumerInfo)

PLACEMENT_TIMEOUT = 30.0
"""How long a replicated stream or consumer may take to get its peers and a leader."""


async def _placed(
    info: Info, replicas: int, refresh: Callable[[], Awaitable[Info]], what: str
) -> Info:
    """Wait until a clustered asset has all its peers and a leader.

    The create or update call returns before the meta leader has placed the new peers: a
    consumer asked for R3 on a stream still being scaled up is refused ("replica count
    exceeds parent stream"), and a fetch before the leader exists only times out. A peer
    that is down does not count against placement, so this also returns with a node lost.
    """
    if replicas <= 1:
        return info
    deadline = time.monotonic() + PLACEMENT_TIMEOUT
    while True:
        cluster = info.cluster
        if cluster is not None and cluster.leader and 1 + len(cluster.replicas or []) >= replicas:
            return info
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} has no leader with {replicas} replicas after waiting")
        await asyncio.sleep(0.05)
        info = await refresh()


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> api.StreamInfo:
    """Create the stream, or bring an existing one to ``spec`` (stream configs can change,
    ``replicas`` too: R1 to R3 adds two peers that catch up from the leader); returns once
    the stream has a leader and all ``spec.replicas`` peers."""
    config = stream_config(spec)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        info = await js.add_stream(config)
    else:
        info = await js.update_stream(config)
    return await _placed(
        info, spec.replicas, lambda: js.stream_info(spec.name), f"stream {spec.name}"
    )


def consumer_config(spec: ConsumerSpec, replicas: int = 1) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        name=spec.durable,
        durable_name=spec.durable,
        filter_subjects=list(spec.filter_subjects),
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_seconds,
        max_ack_pending=spec.max_ack_pending,
        max_deliver=spec.max_deliver,
        # As many as the stream, stated: a consumer left at the default (0, "inherit") stays
        # R1 when its stream is scaled up, and would be lost with its one node.
        num_replicas=replicas,
    )


async def ensure_consumer(
    js: JetStreamContext, stream: StreamSpec, spec: ConsumerSpec
) -> api.ConsumerInfo:
    """Create the durable consumer or update it in place.

    An existing durable keeps its old config unless told otherwise (DESIGN 9); the server's
    create call updates the mutable fields of an existing consumer and refuses the rest,
    which surfaces here instead of running silently with a stale config.
    """
    try:
        info = await js.add_consumer(stream.name, consumer_config(spec, stream.replicas))
    except BadRequestError as exc:
        raise RuntimeError(
            f"consumer {spec.durable} on {stream.name} exists with an incompatible config: "
            f"{exc.description}; delete it deliberately (its position is lost) to change it"
        ) from exc
    return await _placed(
        info,
        stream.replicas,
        lambda: js.consumer_info(stream.name, spec.durable),
        f"consumer {spec.durable} on {stream.name}",
    )


async def ensure_capacity_bucket(js: JetStreamContext, stream: StreamSpec) -> KeyValue:
    """The shelters' capacity key-value bucket, with as many replicas as ``stream``.

    ``create_key_value`` refuses a bucket that exists with other settings, so a bucket made
    before the deployment became a cluster is scaled by updating its backing stream.
    """
    try:
        return await js.create_key_value(
            bucket=CAPACITY_BUCKET,
            history=5,
            storage=api.StorageType.FILE,
            description="latest capacity per shelter (history in the ledger)",
            replicas=stream.replicas,
        )
    except BadRequestError:
        name = f"KV_{CAPACITY_BUCKET}"
        current = (await js.stream_info(name)).config
        if current.num_replicas == stream.replicas:
            raise  # something else differs: say so rather than change it silently
        info = await js.update_stream(dataclasses.replace(current, num_replicas=stream.replicas))
        await _placed(info, stream.replicas, lambda: js.stream_info(name), f"bucket {name}")
        return await js.key_value(CAPACITY_BUCKET)


class PublishError(TransportError, RuntimeError):
    """A publish that JetStream did not confirm."""


_PROCESS_COPY_IDS = CopyIds.ephemeral()


async def publish(
    js: JetStreamContext,
    message: Envelope,
    *,
    stream: str,
    copy_ids: CopyIds | None = None,
    registry: AgencyRegistry | None = None,
) -> list[api.PubAck]:
    """Publish ``message`` on each subject its sender publishes it on and wait for every PubAck.

    Each recipient's copy of a federal message carries a ``Nats-Msg-Id`` only the deployment
    can compute (``copy_ids``, the deployment's key; without one, this process's), so a retry
    after a lost PubAck is absorbed by the stream's duplicate window and the PubAck says
    ``duplicate``. Messages on an agency's outbox carry none: the hub recognises a resend.
    """
    known = registry or active_registry()  # the process's, unless the caller has its own
    acks = []
    for subject, copy_key in subjects.published_routes(message, known):
        route = subjects.parse(subject)
        assert route is not None
        # Each recipient's copy carries only what that recipient may know.
        guarded = redaction.for_recipient(message, route.agency, known)
        copy = Release(subject, copy_key, guarded.to_json())
        acks.append(await _send(js, copy, stream, copy_ids, f"{message.type} {message.id}"))
    return acks


async def publish_release(
    js: JetStreamContext, release: Release, *, stream: str, copy_ids: CopyIds | None = None
) -> api.PubAck:
    """Publish what the hub lets out after recording a placement, as derived (the same bytes
    and copy key make a second publish after a crash a duplicate), and wait for the PubAck."""
    return await _send(js, release, stream, copy_ids, "release")


async def _send(
    js: JetStreamContext, copy: Release, stream: str, copy_ids: CopyIds | None, what: str
) -> api.PubAck:
    """One copy, with the Nats-Msg-Id its copy key gives it (none on an outbox)."""
    ids = copy_ids or _PROCESS_COPY_IDS
    key = copy.copy_key
    headers = {"Nats-Msg-Id": ids.header(key, copy.payload)} if key else None
    try:
        return await js.publish(copy.subject, copy.payload, stream=stream, headers=headers)
    except Exception as exc:
        raise PublishError(f"{what} to {copy.subject}: {exc}") from exc

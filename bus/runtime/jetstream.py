"""Connecting to NATS, declaring the stream and consumers, and publishing with a PubAck."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

from bus.domain.msgids import CopyIds
from bus.domain.placement import Release
from bus.domain.ports import Published
from bus.domain.ports import PublishError as PublishError  # where callers have caught it
from bus.domain.streams import CAPACITY_BUCKET, ConsumerSpec, StreamSpec
from bus.runtime import publishing
from bus.runtime.connection import ConnectionOptions
from bus.runtime.transport import JetStreamTransport
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry

log = logging.getLogger("mechbus.nats")

ErrorCallback = Callable[[Exception], Awaitable[None]]


async def connect(
    url: str | list[str],
    *,
    name: str,
    agency: str | None = None,
    creds: Path | None = None,
    tls: ssl.SSLContext | None = None,
    error_cb: ErrorCallback | None = None,
    **options: Any,
) -> Client:
    """Connect, retrying forever on loss (nats-py gives up after ~2 minutes by default).

    ``url`` may list several servers (a list, or one string separated by commas as the nats
    tools accept): the client picks any, and moves to another when its server goes away.
    ``creds`` is the nkey seed file, ``tls`` the context trusting the deployment's CA;
    ``options`` are nats-py's (bus.runtime.connection.ConnectionOptions).
    """
    connection = ConnectionOptions.of(
        url, name=name, agency=agency, creds=creds, tls=tls, **options
    )
    return await connect_with(connection, error_cb)


async def connect_with(
    connection: ConnectionOptions, error_cb: ErrorCallback | None = None
) -> Client:
    """Connect with ``connection``, logging every error the client reports."""
    name = connection.name

    async def _log_error(exc: Exception) -> None:
        log.warning("nats error on %s: %s", name, exc)
        if error_cb is not None:
            await error_cb(exc)

    nc = await nats.connect(error_cb=_log_error, **connection.for_nats())
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

    An existing durable keeps its old config unless told otherwise; the server's
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


async def publish(
    js: JetStreamContext,
    message: Envelope,
    *,
    stream: str,
    copy_ids: CopyIds | None = None,
    registry: AgencyRegistry | None = None,
) -> list[Published]:
    """Publish ``message``'s copies on ``stream`` through ``js`` (bus.runtime.publishing)."""
    return await publishing.publish_message(
        JetStreamTransport(js, stream), message, copy_ids=copy_ids, registry=registry
    )


async def publish_release(
    js: JetStreamContext, release: Release, *, stream: str, copy_ids: CopyIds | None = None
) -> Published:
    """Publish a release on ``stream`` through ``js`` (bus.runtime.publishing)."""
    return await publishing.publish_release(
        JetStreamTransport(js, stream), release, copy_ids=copy_ids
    )

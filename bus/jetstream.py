"""Connecting to NATS, declaring the stream and consumers, and publishing with a PubAck."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from bus import redaction, subjects
from bus.streams import ConsumerSpec, StreamSpec
from bus.subjects import inbox_prefix
from schemas.envelope import Envelope

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
    """Connect, retrying forever on loss (nats-py gives up after ~2 minutes by default)."""

    async def _log_error(exc: Exception) -> None:
        log.warning("nats error on %s: %s", name, exc)
        if error_cb is not None:
            await error_cb(exc)

    options.setdefault("max_reconnect_attempts", -1)
    options.setdefault("reconnect_time_wait", 0.5)
    options.setdefault("connect_timeout", 5)
    if agency is not None:
        options.setdefault("inbox_prefix", inbox_prefix(agency))
    servers = url if isinstance(url, list) else [url]
    return await nats.connect(servers=servers, name=name, error_cb=_log_error, **options)


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


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> api.StreamInfo:
    """Create the stream, or bring an existing one to ``spec`` (stream configs can change)."""
    config = stream_config(spec)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        return await js.add_stream(config)
    return await js.update_stream(config)


def consumer_config(spec: ConsumerSpec) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        name=spec.durable,
        durable_name=spec.durable,
        filter_subjects=list(spec.filter_subjects),
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_seconds,
        max_ack_pending=spec.max_ack_pending,
        max_deliver=spec.max_deliver,
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
        return await js.add_consumer(stream.name, consumer_config(spec))
    except BadRequestError as exc:
        raise RuntimeError(
            f"consumer {spec.durable} on {stream.name} exists with an incompatible config: "
            f"{exc.description}; delete it deliberately (its position is lost) to change it"
        ) from exc


class PublishError(RuntimeError):
    """A publish that JetStream did not confirm."""


async def publish(js: JetStreamContext, message: Envelope, *, stream: str) -> list[api.PubAck]:
    """Publish ``message`` on each of its subjects and wait for every PubAck.

    ``Nats-Msg-Id`` is the envelope id (per recipient copy), so a retry after a lost PubAck is
    absorbed by the stream's duplicate window; the PubAck then says ``duplicate``.
    """
    acks = []
    for subject, msg_id in subjects.routes(message):
        route = subjects.parse(subject)
        assert route is not None
        # Each recipient's copy carries only what that recipient may know.
        copy = redaction.for_recipient(message, route.agency)
        payload = copy.to_json()
        try:
            ack = await js.publish(subject, payload, stream=stream, headers={"Nats-Msg-Id": msg_id})
        except Exception as exc:
            raise PublishError(f"{message.type} {message.id} to {subject}: {exc}") from exc
        acks.append(ack)
    return acks

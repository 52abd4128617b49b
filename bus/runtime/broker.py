"""The hub's FastStream broker, built from the shared connection options."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from faststream.nats import NatsBroker
from faststream.nats.security import NatsNKey
from faststream.security import BaseSecurity

from bus.domain.permissions import HUB
from bus.runtime.connection import ConnectionOptions


def security(creds: Path | None, tls: ssl.SSLContext | None) -> BaseSecurity | None:
    """An nkey login and/or the TLS context trusting the deployment's CA."""
    if creds is not None:
        return NatsNKey(creds, ssl_context=tls)
    if tls is not None:
        return BaseSecurity(ssl_context=tls)
    return None


def hub_options(
    servers: str | list[str], creds: Path | None = None, tls: ssl.SSLContext | None = None
) -> ConnectionOptions:
    """The hub's connection: FastStream's own name and connect timeout, a slower reconnect."""
    return ConnectionOptions.of(
        servers,
        agency=HUB,
        creds=creds,
        tls=tls,
        reconnect_time_wait=1,
        connect_timeout=None,
    )


def broker(options: ConnectionOptions) -> NatsBroker:
    """A broker for ``options``. FastStream logs every message at INFO by default, which halves
    throughput and is the wrong place for message content: its log goes to DEBUG."""
    return NatsBroker(
        **options.for_faststream(),
        log_level=logging.DEBUG,
        logger=logging.getLogger("mechbus.hub.faststream"),
        security=security(options.nkey_seed, options.tls),
    )

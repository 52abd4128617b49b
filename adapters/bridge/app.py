"""The HTTP bridge: agencies that run no NATS client take part over plain HTTPS.

An agency authenticates with its own bearer token (``mechbus creds token issue``), lists what
it owes, reads its requests as it may see them (need-to-know: bus.domain.redaction), and
answers (adapters.bridge.routes, one router per topic). ``create_app`` composes them with the
problem+json errors, the body limit and the headers every answer carries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response

from adapters.bridge.access import Bridge
from adapters.bridge.answers import SETTLE_SECONDS
from adapters.bridge.body_limit import BodyLimit
from adapters.bridge.problems import install
from adapters.bridge.publisher import NatsPublisher, Publisher
from adapters.bridge.routes import answers, requests, shelters, webhook
from adapters.bridge.store import BridgeStore
from adapters.ledger.store import SqlLedger
from adapters.observability.http import routes as health_routes
from adapters.observability.watched import Watched
from bus.domain.clock import utc_now

VERSION = "0.1.0"


def create_app(
    ledger: SqlLedger,
    store: BridgeStore,
    publisher: Publisher,
    *,
    clock: Callable[[], datetime] = utc_now,
    close_ledger: bool = False,
    settle: float = SETTLE_SECONDS,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await publisher.close()
            if close_ledger:
                ledger.close()

    app = FastAPI(
        title="mechbus HTTP bridge",
        version=VERSION,
        description=(
            "For agencies that speak to the Mechanism's bus over HTTPS instead of NATS. "
            "Every answer becomes the same v1 CloudEvents message the NATS contract "
            "(docs/contract/asyncapi) describes. Errors are RFC 9457 problem+json."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.bridge = Bridge(ledger, store, publisher, clock, settle)
    install(app)
    app.add_middleware(BodyLimit)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    for topic in (requests, answers, shelters, webhook):
        app.include_router(topic.router)
    # /healthz, /readyz, /metrics: no token, as they name no agency, case or message (and,
    # being no API route, they stay out of the agencies' OpenAPI document)
    nats = publisher.problem if isinstance(publisher, NatsPublisher) else None
    app.router.routes.extend(health_routes(Watched(ledger, nats)))
    return app


def openapi_document(app: FastAPI) -> str:
    """The committed docs/contract/openapi.json: stable key order, final newline."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

"""Who is asking and what they may see: the bridge's state as a FastAPI dependency, the
agency behind a bearer token, and a request as that agency may see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.bridge.answers import SETTLE_SECONDS, Published, deliver
from adapters.bridge.problems import ProblemError
from adapters.bridge.publisher import Publisher
from adapters.bridge.store import BridgeStore
from adapters.ledger.store import SqlLedger
from adapters.readmodel import agency as agency_view
from schemas.envelope import Envelope

RequestId = Annotated[str, Path(min_length=1, max_length=100, description="The request's id")]


class Bridge:
    def __init__(
        self,
        ledger: SqlLedger,
        store: BridgeStore,
        publisher: Publisher,
        clock: Callable[[], datetime],
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.settle = settle  # how long an answer waits for the hub to record it

    def request_for(self, agency: str, request_id: str) -> tuple[Envelope, str]:
        """The request as ``agency`` may see it, and where its answer stands; 404 alike for
        a request that does not exist and one addressed to someone else."""
        found = agency_view.request_as_seen(self.ledger, agency, request_id)
        if found is None:
            raise ProblemError(
                404, "not-found", "Not found", f"no request {request_id!r} addressed to {agency}"
            )
        return found

    async def publish(self, message: Envelope) -> Published:
        """Judge, publish and follow ``message`` (adapters.bridge.answers.deliver)."""
        return await deliver(self.ledger, self.publisher, message, self.clock(), self.settle)


bearer = HTTPBearer(auto_error=False, description="the agency's token (mechbus creds token)")


def bridge_of(request: Request) -> Bridge:
    found: Bridge = request.app.state.bridge
    return found


def agency_of(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    challenge = {"WWW-Authenticate": 'Bearer realm="mechbus"'}
    if credentials is None:
        raise ProblemError(
            401,
            "unauthorized",
            "Unauthorized",
            "send Authorization: Bearer <token>",
            None,
            challenge,
        )
    agency = bridge_of(request).store.agency_for(credentials.credentials)
    if agency is None:
        raise ProblemError(
            401, "unauthorized", "Unauthorized", "unknown or revoked token", None, challenge
        )
    return agency


Agency = Annotated[str, Depends(agency_of)]
BridgeDep = Annotated[Bridge, Depends(bridge_of)]

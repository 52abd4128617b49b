"""The HTTP bridge: agencies that run no NATS client take part over plain HTTPS.

An agency authenticates with its own bearer token (``mechbus creds token issue``), lists what
it owes, reads its requests as it may see them (need-to-know: bus.domain.redaction), and answers.
Each answer is built exactly as the agency SDK builds it (bus.runtime.agency.reply_from, and
the fixed
receipt id), then judged and published by adapters.bridge.answers: the hub's intake and
lifecycle run on it first, so a step the record refuses is answered 409/422 at once, and a
published one is answered once the hub has recorded it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import select

from adapters.bridge.answers import SETTLE_SECONDS, Published, deliver
from adapters.bridge.body_limit import BodyLimit
from adapters.bridge.paging import PAGE, PAGED, Limit, Offset, paged
from adapters.bridge.problems import FieldProblem, ProblemError, install, responses
from adapters.bridge.problems import schema_violation as violation
from adapters.bridge.publisher import Publisher
from adapters.bridge.store import BridgeStore, BridgeStoreError
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import MessageRow, RecipientRow, RequestRow
from adapters.readmodel.tracking import Filters, commitments, pending, request_message
from bus.domain import redaction
from bus.domain.clock import utc_now
from bus.runtime.agency import delivery_receipt, reply_from
from schemas.capacity import (
    CapacityBody,
    CapacityUpdate,
    PlacementArrived,
    PlacementArrivedBody,
    PlacementEnded,
    PlacementEndedBody,
    PlacementOffer,
    PlacementOfferBody,
)
from schemas.envelope import Body, Envelope
from schemas.messages import parse_message
from schemas.registry import active_registry
from schemas.requests import OPENING_REQUESTS
from schemas.responses import (
    Acceptance,
    AcceptanceBody,
    Acknowledgement,
    AcknowledgementBody,
    CommitmentBody,
    CommitmentFulfilled,
    CommitmentMade,
    CommitmentPartiallyFulfilled,
    CommitmentWithdrawn,
    Decline,
    DeclineBody,
    FulfilmentBody,
    PartialFulfilmentBody,
    ProgressBody,
    ProgressReport,
    ProvisionalAnswer,
    ProvisionalBody,
    WithdrawalBody,
)

BRIDGE_CLIENT = "mechbus-http-bridge/0.1"
VERSION = "0.1.0"
RequestId = Annotated[str, Path(min_length=1, max_length=100, description="The request's id")]


class PendingRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    case_ref: str | None
    kind: str
    urgency: str
    status: str
    owed: str = Field(description="acknowledgement or answer")
    sent_at: datetime
    due_at: datetime
    overdue_hours: float = Field(description="negative: still within the deadline")


class OpenCommitment(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    case_ref: str | None
    commitment_id: str
    action: str
    due: datetime
    status: str
    overdue_hours: float = Field(description="negative: not due yet")


class RequestView(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str
    closed_at: datetime | None = Field(
        default=None, description="when the request closed: it then takes no further answer"
    )
    request: dict[str, Any] = Field(description="the v1 message, as this agency may see it")


class WebhookIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(max_length=2000, description="the agency's https:// endpoint")


class WebhookOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    secret: str = Field(
        description="HMAC-SHA256 key of the X-Mechbus-Signature header; shown only now"
    )


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
        with self.ledger.session() as session:
            recipient = session.exec(
                select(RecipientRow).where(
                    RecipientRow.request_id == request_id, RecipientRow.agency == agency
                )
            ).first()
            row = (
                session.exec(request_message(request_id, MessageRow)).first()
                if recipient is not None
                else None
            )
        if recipient is None or row is None:
            raise ProblemError(
                404, "not-found", "Not found", f"no request {request_id!r} addressed to {agency}"
            )
        document = json.loads(row.body)
        message = parse_message(row.body)
        registry = active_registry()
        if redaction.may_know_personal(message, agency, registry):
            personal = self.ledger.personal(request_id, row.source)
            if personal is not None and isinstance(document.get("data"), dict):
                document["data"][redaction.PERSONAL_FIELD] = personal
                message = parse_message(json.dumps(document).encode())
        return redaction.for_recipient(message, agency, registry), recipient.status

    def closed_at(self, request_id: str) -> datetime | None:
        with self.ledger.session() as session:
            query = select(RequestRow.closed_at).where(RequestRow.request_id == request_id)
            return session.exec(query).first()


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


async def _answer(
    bridge: Bridge,
    agency: str,
    request_id: str,
    build: Callable[[Envelope, datetime], Envelope],
) -> Published:
    request, _ = await asyncio.to_thread(bridge.request_for, agency, request_id)
    message = _built(lambda now: build(request, now), bridge.clock())
    return await deliver(bridge.ledger, bridge.publisher, message, bridge.clock(), bridge.settle)


def _built(build: Callable[[datetime], Envelope], now: datetime) -> Envelope:
    """The message, or a 422 naming the fields the contract refuses."""
    try:
        return build(now)
    except ValidationError as exc:
        errors = [
            FieldProblem(field=".".join(str(p) for p in e["loc"]), problem=e["msg"])
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise violation(errors, "the message") from exc


def _reply(agency: str, cls: Any, body: Body) -> Callable[[Envelope, datetime], Envelope]:
    def build(request: Envelope, now: datetime) -> Envelope:
        built: Envelope = reply_from(agency, cls, request, body, now)
        return built

    return build


ANSWER = responses(400, 401, 404, 409, 413, 422, 503)


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

    @app.get(
        "/v1/requests",
        responses=responses(401),
        summary="What this agency still owes, most overdue first, a page at a time",
        description=PAGED,
    )
    async def list_pending(
        request: Request,
        response: Response,
        agency: Agency,
        bridge: BridgeDep,
        limit: Limit = PAGE,
        offset: Offset = 0,
    ) -> list[PendingRequest]:
        def query() -> list[PendingRequest]:
            with bridge.ledger.session() as session:
                lines = pending(session, bridge.clock(), Filters(agency=agency), limit + 1, offset)
            return [
                PendingRequest(
                    request_id=line.request_id,
                    case_ref=line.case_ref,
                    kind=line.kind,
                    urgency=line.urgency,
                    status=line.status,
                    owed=line.owed,
                    sent_at=line.sent_at,
                    due_at=line.due_at,
                    overdue_hours=line.overdue_hours,
                )
                for line in lines
                if line.agency == agency
            ]

        return paged(request, response, await asyncio.to_thread(query), limit, offset)

    @app.get(
        "/v1/commitments",
        responses=responses(401),
        summary="This agency's open commitments, earliest due first, a page at a time",
        description=PAGED,
    )
    async def list_commitments(
        request: Request,
        response: Response,
        agency: Agency,
        bridge: BridgeDep,
        limit: Limit = PAGE,
        offset: Offset = 0,
    ) -> list[OpenCommitment]:
        def query() -> list[OpenCommitment]:
            with bridge.ledger.session() as session:
                lines = commitments(
                    session,
                    bridge.clock(),
                    overdue_only=False,
                    agency=agency,
                    limit=limit + 1,
                    offset=offset,
                )
            return [
                OpenCommitment(
                    request_id=line.request_id,
                    case_ref=line.case_ref,
                    commitment_id=line.commitment_id,
                    action=line.action,
                    due=line.due,
                    status=line.status,
                    overdue_hours=line.overdue_hours,
                )
                for line in lines
                if line.agency == agency
            ]

        return paged(request, response, await asyncio.to_thread(query), limit, offset)

    @app.get(
        "/v1/requests/{request_id}",
        responses=responses(401, 404, 422),
        summary="One request addressed to this agency, as it may see it",
    )
    async def show(request_id: RequestId, agency: Agency, bridge: BridgeDep) -> RequestView:
        message, status = await asyncio.to_thread(bridge.request_for, agency, request_id)
        closed_at = await asyncio.to_thread(bridge.closed_at, request_id)
        return RequestView(
            status=status, closed_at=closed_at, request=json.loads(message.to_json())
        )

    @app.post(
        "/v1/requests/{request_id}/receipt",
        status_code=202,
        responses=ANSWER,
        summary="Technical delivery receipt (fixed id: posting twice is harmless)",
    )
    async def receipt(request_id: RequestId, agency: Agency, bridge: BridgeDep) -> Published:
        def build(request: Envelope, now: datetime) -> Envelope:
            if not isinstance(request, OPENING_REQUESTS):
                raise ProblemError(
                    422,
                    "no-receipt",
                    "No receipt for this message",
                    f"{request.type} is delivered without a receipt",
                )
            return delivery_receipt(agency, request, now, BRIDGE_CLIENT)

        return await _answer(bridge, agency, request_id, build)

    @app.post(
        "/v1/requests/{request_id}/acknowledgement",
        status_code=202,
        responses=ANSWER,
        summary="Institutional acknowledgement by a named official role",
    )
    async def acknowledge(
        request_id: RequestId, body: AcknowledgementBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, Acknowledgement, body))

    @app.post(
        "/v1/requests/{request_id}/acceptance",
        status_code=202,
        responses=ANSWER,
        summary="Accept the request",
    )
    async def accept(
        request_id: RequestId, body: AcceptanceBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, Acceptance, body))

    @app.post(
        "/v1/requests/{request_id}/decline",
        status_code=202,
        responses=ANSWER,
        summary="Decline with a reason code",
    )
    async def decline(
        request_id: RequestId, body: DeclineBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, Decline, body))

    @app.post(
        "/v1/requests/{request_id}/provisional",
        status_code=202,
        responses=ANSWER,
        summary="A provisional answer, with the date of the decision",
    )
    async def provisional(
        request_id: RequestId, body: ProvisionalBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, ProvisionalAnswer, body))

    @app.post(
        "/v1/requests/{request_id}/commitments",
        status_code=202,
        responses=ANSWER,
        summary="Commit to an action with a due date",
    )
    async def commit(
        request_id: RequestId, body: CommitmentBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, CommitmentMade, body))

    @app.post(
        "/v1/requests/{request_id}/progress",
        status_code=202,
        responses=ANSWER,
        summary="Report progress on a commitment",
    )
    async def progress(
        request_id: RequestId, body: ProgressBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, ProgressReport, body))

    @app.post(
        "/v1/requests/{request_id}/fulfilment",
        status_code=202,
        responses=ANSWER,
        summary="A commitment fulfilled, with references to the evidence",
    )
    async def fulfil(
        request_id: RequestId, body: FulfilmentBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, CommitmentFulfilled, body))

    @app.post(
        "/v1/requests/{request_id}/partial-fulfilment",
        status_code=202,
        responses=ANSWER,
        summary="A commitment fulfilled in part: the evidence and what is still missing",
    )
    async def fulfil_partly(
        request_id: RequestId, body: PartialFulfilmentBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        build = _reply(agency, CommitmentPartiallyFulfilled, body)
        return await _answer(bridge, agency, request_id, build)

    @app.post(
        "/v1/requests/{request_id}/withdrawal",
        status_code=202,
        responses=ANSWER,
        summary="Withdraw a commitment, with the reason",
    )
    async def withdraw(
        request_id: RequestId, body: WithdrawalBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, CommitmentWithdrawn, body))

    @app.post(
        "/v1/requests/{request_id}/offer",
        status_code=202,
        responses=ANSWER,
        summary="A shelter offers places for a relocation request",
    )
    async def offer(
        request_id: RequestId, body: PlacementOfferBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, PlacementOffer, body))

    @app.post(
        "/v1/requests/{request_id}/arrival",
        status_code=202,
        responses=ANSWER,
        summary="A shelter reports that the people placed with it arrived",
    )
    async def arrival(
        request_id: RequestId, body: PlacementArrivedBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, PlacementArrived, body))

    @app.post(
        "/v1/requests/{request_id}/departure",
        status_code=202,
        responses=ANSWER,
        summary="A shelter reports that the people placed with it left (spaces given back)",
    )
    async def departure(
        request_id: RequestId, body: PlacementEndedBody, agency: Agency, bridge: BridgeDep
    ) -> Published:
        return await _answer(bridge, agency, request_id, _reply(agency, PlacementEnded, body))

    @app.post(
        "/v1/capacity",
        status_code=202,
        responses=responses(400, 401, 413, 422, 503),
        summary="A shelter's capacity now, in 24 h and in 72 h, with its constraints",
    )
    async def capacity(body: CapacityBody, agency: Agency, bridge: BridgeDep) -> Published:
        # built as the SDK's publish_capacity builds it
        message = _built(
            lambda now: CapacityUpdate(source=agency, time=now, data=body), bridge.clock()
        )
        return await deliver(
            bridge.ledger, bridge.publisher, message, bridge.clock(), bridge.settle
        )

    @app.put(
        "/v1/webhook",
        responses=responses(400, 401, 413, 422),
        summary="Register (or replace) this agency's webhook; answers a new signing secret",
    )
    async def set_webhook(body: WebhookIn, agency: Agency, bridge: BridgeDep) -> WebhookOut:
        try:
            secret = await asyncio.to_thread(bridge.store.set_webhook, agency, body.url)
        except BridgeStoreError as exc:
            errors = [FieldProblem(field="body.url", problem=str(exc))]
            raise violation(errors, "the webhook") from exc
        return WebhookOut(url=body.url, secret=secret)

    @app.delete(
        "/v1/webhook",
        status_code=204,
        responses=responses(401, 404),
        summary="Stop webhook deliveries to this agency",
    )
    async def remove_webhook(agency: Agency, bridge: BridgeDep) -> Response:
        try:
            await asyncio.to_thread(bridge.store.remove_webhook, agency)
        except BridgeStoreError as exc:
            raise ProblemError(404, "not-found", "Not found", str(exc)) from exc
        return Response(status_code=204)

    return app


def openapi_document(app: FastAPI) -> str:
    """The committed docs/contract/openapi.json: stable key order, final newline."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

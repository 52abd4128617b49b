"""An agency's answers on a request addressed to it, every one generated from ``ANSWERS``: its
path, the body it takes, how its message is built, and what the OpenAPI document says of it.

Each message is built exactly as the agency SDK builds it (bus.runtime.agency.reply_from, and
the fixed receipt id), then judged, published and followed by adapters.bridge.answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from inspect import Parameter, Signature
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ValidationError

from adapters.bridge.access import Agency, BridgeDep, RequestId
from adapters.bridge.answers import Published
from adapters.bridge.problems import FieldProblem, ProblemError, responses, schema_violation
from bus.runtime.agency import delivery_receipt, reply_from
from schemas.capacity import (
    PlacementArrived,
    PlacementArrivedBody,
    PlacementEnded,
    PlacementEndedBody,
    PlacementOffer,
    PlacementOfferBody,
)
from schemas.envelope import Body, Envelope
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
ANSWER = responses(400, 401, 404, 409, 413, 422, 503)

# (agency, the request as it may see it, the posted body or None, now) -> the message
Build = Callable[[str, Envelope, Any, datetime], Envelope]


def built(build: Callable[[datetime], Envelope], now: datetime) -> Envelope:
    """The message, or a 422 naming the fields the contract refuses."""
    try:
        return build(now)
    except ValidationError as exc:
        errors = [
            FieldProblem(field=".".join(str(p) for p in e["loc"]), problem=e["msg"])
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise schema_violation(errors, "the message") from exc


def receipt(agency: str, request: Envelope, _: None, now: datetime) -> Envelope:
    if not isinstance(request, OPENING_REQUESTS):
        raise ProblemError(
            422,
            "no-receipt",
            "No receipt for this message",
            f"{request.type} is delivered without a receipt",
        )
    return delivery_receipt(agency, request, now, BRIDGE_CLIENT)


def reply(message: type[Envelope]) -> Build:
    """A reply of type ``message`` carrying the posted body."""

    def build(agency: str, request: Envelope, body: Body, now: datetime) -> Envelope:
        built: Envelope = reply_from(agency, message, request, body, now)
        return built

    return build


@dataclass(frozen=True)
class Answer:
    name: str  # the endpoint's name, part of its OpenAPI operation id
    path: str  # below /v1/requests/{request_id}/
    body: type[BaseModel] | None  # None: the route takes no body
    build: Build
    summary: str


ANSWERS = (
    Answer(
        "receipt",
        "receipt",
        None,
        receipt,
        "Technical delivery receipt (fixed id: posting twice is harmless)",
    ),
    Answer(
        "acknowledge",
        "acknowledgement",
        AcknowledgementBody,
        reply(Acknowledgement),
        "Institutional acknowledgement by a named official role",
    ),
    Answer("accept", "acceptance", AcceptanceBody, reply(Acceptance), "Accept the request"),
    Answer("decline", "decline", DeclineBody, reply(Decline), "Decline with a reason code"),
    Answer(
        "provisional",
        "provisional",
        ProvisionalBody,
        reply(ProvisionalAnswer),
        "A provisional answer, with the date of the decision",
    ),
    Answer(
        "commit",
        "commitments",
        CommitmentBody,
        reply(CommitmentMade),
        "Commit to an action with a due date",
    ),
    Answer(
        "progress",
        "progress",
        ProgressBody,
        reply(ProgressReport),
        "Report progress on a commitment",
    ),
    Answer(
        "fulfil",
        "fulfilment",
        FulfilmentBody,
        reply(CommitmentFulfilled),
        "A commitment fulfilled, with references to the evidence",
    ),
    Answer(
        "fulfil_partly",
        "partial-fulfilment",
        PartialFulfilmentBody,
        reply(CommitmentPartiallyFulfilled),
        "A commitment fulfilled in part: the evidence and what is still missing",
    ),
    Answer(
        "withdraw",
        "withdrawal",
        WithdrawalBody,
        reply(CommitmentWithdrawn),
        "Withdraw a commitment, with the reason",
    ),
    Answer(
        "offer",
        "offer",
        PlacementOfferBody,
        reply(PlacementOffer),
        "A shelter offers places for a relocation request",
    ),
    Answer(
        "arrival",
        "arrival",
        PlacementArrivedBody,
        reply(PlacementArrived),
        "A shelter reports that the people placed with it arrived",
    ),
    Answer(
        "departure",
        "departure",
        PlacementEndedBody,
        reply(PlacementEnded),
        "A shelter reports that the people placed with it left (spaces given back)",
    ),
)


def endpoint(answer: Answer) -> Callable[..., Any]:
    """The route's handler: the request as the agency may see it (404 otherwise), the message
    built on it (422 when the contract refuses it), then judged and published."""

    async def handle(
        *, request_id: str, agency: str, bridge: Any, body: BaseModel | None = None
    ) -> Published:
        request, _ = await asyncio.to_thread(bridge.request_for, agency, request_id)
        message = built(lambda now: answer.build(agency, request, body, now), bridge.clock())
        published: Published = await bridge.publish(message)
        return published

    # FastAPI reads a route's parameters, and so its OpenAPI entry, from the handler's
    # signature; the body's model differs from route to route, so the signature is given here.
    parameters = [Parameter("request_id", Parameter.KEYWORD_ONLY, annotation=RequestId)]
    if answer.body is not None:
        parameters.append(Parameter("body", Parameter.KEYWORD_ONLY, annotation=answer.body))
    parameters += [
        Parameter("agency", Parameter.KEYWORD_ONLY, annotation=Agency),
        Parameter("bridge", Parameter.KEYWORD_ONLY, annotation=BridgeDep),
    ]
    handle.__signature__ = Signature(parameters, return_annotation=Published)  # type: ignore[attr-defined]
    handle.__name__ = answer.name
    return handle


router = APIRouter()
for _answer in ANSWERS:
    router.add_api_route(
        f"/v1/requests/{{request_id}}/{_answer.path}",
        endpoint(_answer),
        methods=["POST"],
        status_code=202,
        responses=ANSWER,
        summary=_answer.summary,
        name=_answer.name,
    )

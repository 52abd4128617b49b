"""An agency's webhook: registered (or replaced) with a new signing secret, or removed."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from adapters.bridge.access import Agency, BridgeDep
from adapters.bridge.problems import FieldProblem, ProblemError, responses, schema_violation
from adapters.bridge.store import BridgeStoreError

router = APIRouter()


class WebhookIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(max_length=2000, description="the agency's https:// endpoint")


class WebhookOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    secret: str = Field(
        description="HMAC-SHA256 key of the X-Mechbus-Signature header; shown only now"
    )


@router.put(
    "/v1/webhook",
    responses=responses(400, 401, 413, 422),
    summary="Register (or replace) this agency's webhook; answers a new signing secret",
)
async def set_webhook(body: WebhookIn, agency: Agency, bridge: BridgeDep) -> WebhookOut:
    try:
        secret = await asyncio.to_thread(bridge.store.set_webhook, agency, body.url)
    except BridgeStoreError as exc:
        errors = [FieldProblem(field="body.url", problem=str(exc))]
        raise schema_violation(errors, "the webhook") from exc
    return WebhookOut(url=body.url, secret=secret)


@router.delete(
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

"""What an agency owes and may read: its pending requests, its open commitments, and one
request addressed to it, as it may see it."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from adapters.bridge.access import Agency, BridgeDep, RequestId
from adapters.bridge.paging import PAGED, Paged
from adapters.bridge.problems import responses
from adapters.readmodel import agency as agency_view

router = APIRouter()


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
    overdue_hours: float = Field(
        description="negative: not due yet; counted from the legal limit when that is earlier"
    )
    legal_limit: datetime | None = Field(
        default=None,
        description="the latest moment the law allows the measures to be implemented by "
        "(protection measures only)",
    )
    flag: str | None = Field(
        default=None,
        description='"beyond the legal limit" when due is later than legal_limit: recorded, '
        "and chased at the limit",
    )


class RequestView(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str
    closed_at: datetime | None = Field(
        default=None, description="when the request closed: it then takes no further answer"
    )
    request: dict[str, Any] = Field(description="the v1 message, as this agency may see it")


@router.get(
    "/v1/requests",
    responses=responses(401),
    summary="What this agency still owes, most overdue first, a page at a time",
    description=PAGED,
)
async def list_pending(agency: Agency, bridge: BridgeDep, page: Paged) -> list[PendingRequest]:
    def query() -> list[PendingRequest]:
        now = bridge.clock()
        lines = agency_view.pending_for(bridge.ledger, agency, now, page.limit + 1, page.offset)
        return [PendingRequest.model_validate(line, from_attributes=True) for line in lines]

    return page.of(await asyncio.to_thread(query))


@router.get(
    "/v1/commitments",
    responses=responses(401),
    summary="This agency's open commitments, earliest due first, a page at a time",
    description=PAGED,
)
async def list_commitments(agency: Agency, bridge: BridgeDep, page: Paged) -> list[OpenCommitment]:
    def query() -> list[OpenCommitment]:
        now = bridge.clock()
        lines = agency_view.commitments_of(bridge.ledger, agency, now, page.limit + 1, page.offset)
        return [OpenCommitment.model_validate(line, from_attributes=True) for line in lines]

    return page.of(await asyncio.to_thread(query))


@router.get(
    "/v1/requests/{request_id}",
    responses=responses(401, 404, 422),
    summary="One request addressed to this agency, as it may see it",
)
async def show(request_id: RequestId, agency: Agency, bridge: BridgeDep) -> RequestView:
    message, status = await asyncio.to_thread(bridge.request_for, agency, request_id)
    closed_at = await asyncio.to_thread(agency_view.closed_at, bridge.ledger, request_id)
    return RequestView(status=status, closed_at=closed_at, request=json.loads(message.to_json()))

"""A shelter's capacity, reported over HTTPS as the agency SDK's ``publish_capacity`` would."""

from __future__ import annotations

from fastapi import APIRouter

from adapters.bridge.access import Agency, BridgeDep
from adapters.bridge.answers import Published
from adapters.bridge.problems import responses
from adapters.bridge.routes.answers import built
from schemas.capacity import CapacityBody, CapacityUpdate

router = APIRouter()


@router.post(
    "/v1/capacity",
    status_code=202,
    responses=responses(400, 401, 413, 422, 503),
    summary="A shelter's capacity now, in 24 h and in 72 h, with its constraints",
)
async def capacity(body: CapacityBody, agency: Agency, bridge: BridgeDep) -> Published:
    message = built(lambda now: CapacityUpdate(source=agency, time=now, data=body), bridge.clock())
    return await bridge.publish(message)

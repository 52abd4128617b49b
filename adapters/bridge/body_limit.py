"""No body larger than one bus message gets in: refused with 413 by its Content-Length before
a byte is read, or, sent chunked, as soon as the bytes counted pass the limit."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.bridge.problems import ProblemError, problem_response
from bus.domain.errors import RefusalError
from bus.domain.streams import MAX_MESSAGE_BYTES

TITLE = "Content too large"


def too_large(limit: int) -> str:
    return f"the body is larger than one bus message may be ({limit} bytes)"


class BodyTooLarge(HTTPException, RefusalError):
    """Raised from ``receive`` mid-stream. An HTTPException, because FastAPI turns anything
    else raised while it reads a body into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


class BodyLimit:
    """ASGI middleware around the bridge app."""

    def __init__(self, app: ASGIApp, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.limit:
            refusal = ProblemError(413, "content-too-large", TITLE, too_large(self.limit))
            await problem_response(Request(scope), refusal)(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        counted = 0

        async def counted_receive() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        return counted_receive


def _declared_length(scope: Scope) -> int:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            return _number(value)
    return 0


def _number(value: Any) -> int:
    try:
        return int(value)
    except ValueError:
        return 0  # the server refuses a malformed length itself

"""RFC 9457 problem details: every error the bridge answers is ``application/problem+json``
with ``type``, ``title``, ``status``, ``detail`` and ``instance``; schema violations add
``errors``, one entry per field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bus.domain.errors import RefusalError

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://mechbus.example/problems/"  # documented in docs/ARCHITECTURE.md


class FieldProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    problem: str


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None
    reason: str | None = Field(
        default=None,
        description="for a step the hub refuses: its reason code, as in the rejected notice",
    )


class ProblemError(RefusalError):
    """Raised by handlers; answered as problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(detail, code=slug)
        self.reason = reason
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_response(request: Request, exc: ProblemError) -> JSONResponse:
    body = Problem(
        type=TYPE_BASE + exc.slug,
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        reason=exc.reason,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=exc.status,
        media_type=MEDIA_TYPE,
        headers=exc.headers,
    )


def schema_violation(errors: list[FieldProblem], what: str = "the request") -> ProblemError:
    listed = ", ".join(e.field for e in errors[:10]) or "(body)"
    return ProblemError(
        422,
        "schema-violation",
        "Schema violation",
        f"{what} does not match the v1 contract; fields: {listed}",
        errors[:50],
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def install(app: FastAPI) -> None:
    """Every error path of ``app`` answers problem+json (validation, 404, 405, our own)."""

    @app.exception_handler(ProblemError)
    async def problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        if any(err.get("type") == "json_invalid" for err in raw):
            detail = "the body is not valid JSON"
            return problem_response(
                request, ProblemError(400, "malformed-json", "Malformed JSON", detail)
            )
        # Never echo the input: it may hold what the agency should not send anywhere.
        errors = [FieldProblem(field=_field(err["loc"]), problem=str(err["msg"])) for err in raw]
        return problem_response(request, schema_violation(errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Content too large"}
        title = titles.get(exc.status_code, "HTTP error")
        slug = title.lower().replace(" ", "-")
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem_response(
            request,
            ProblemError(exc.status_code, slug, title, detail, headers=dict(exc.headers or {})),
        )


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route may answer."""
    described = {
        400: "Malformed JSON",
        401: "Missing, unknown or revoked token",
        404: "No such request addressed to this agency",
        409: "Refused: where the request stands does not allow this step (reason given)",
        413: "The body is larger than one bus message may be (64 KiB)",
        422: "Schema violation (the fields are listed), or a step that can never apply",
        503: "NATS is unavailable: nothing was published; retry",
    }
    return {
        code: {
            "model": Problem,
            "description": described[code],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }

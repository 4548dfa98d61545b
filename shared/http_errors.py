"""Error mapping, in one place: every refusal and failure becomes an ``ErrorBody`` that says what is wrong.

``shared.errors`` refusals (404/409/422 and their details), a body that is not JSON at all (400, naming
the byte where parsing stopped), request validation (422 with one problem per field), Starlette's HTTP
errors (401, 403, 405, 413...), the service's database away (503 with ``Retry-After``: it is restarting, or
the connection was cut; nothing was done, so the request may be sent again) and, as the last resort, an
unexpected exception (500, logged, no internals in the body). ``ErrorBody`` is also the schema the OpenAPI lists
for every refusal (shared/openapi.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import DATABASE_AWAY
from shared.errors import Refused, TooManyRequests
from shared.logging import get_logger

log = get_logger(__name__)

ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    422: "validation_failed",
    429: "too_many_requests",
    503: "unavailable",
}

RETRY_AFTER_S = 1


class ProblemView(BaseModel):
    """One thing wrong with a request: where and what."""

    field: str = Field(description="where: a dotted path into the body or the parameter's name; `body` for all of it")
    problem: str = Field(description="what is wrong, for people")
    type: str | None = Field(default=None, description="for request validation: the kind of problem (e.g. missing)")


class ErrorBody(BaseModel):
    """The one body of every refusal and failure: a code for programs, a message for people, the problems."""

    # Refusals may add details of their own (e.g. ``existing_case_id``).
    model_config = ConfigDict(extra="allow")

    error: str = Field(
        description="a stable code: unauthorized, forbidden, not_found, conflict, request_too_large, "
        "validation_failed, too_many_requests, bad_request, unavailable, service_busy, internal_error, or a more "
        "precise one (e.g. call_closed)",
        examples=["not_found"],
    )
    message: str = Field(description="what is wrong, for people", examples=["case 0b9c… does not exist"])
    problems: list[ProblemView] = Field(
        default_factory=list, description="each problem found, where there are several (mostly with 422)"
    )


def malformed_json(exc: RequestValidationError) -> dict[str, Any] | None:
    """The error body for a request body that is not JSON at all, or None when ``exc`` is about something else.

    FastAPI reports a body its JSON decoder refused as one ``json_invalid`` error located at
    ``("body", <character index>)``; the index counts characters of the decoded text, the byte offset counts
    what the client sent (UTF-8).
    """
    errors = exc.errors()
    if len(errors) != 1 or errors[0].get("type") != "json_invalid":
        return None
    loc = tuple(errors[0].get("loc", ()))
    if len(loc) != 2 or loc[0] != "body" or not isinstance(loc[1], int):
        return None  # a JSON-in-a-string field of a model: an ordinary validation problem
    index: int = loc[1]
    text = exc.body
    offset = len(text[:index].encode("utf-8", "surrogatepass")) if isinstance(text, str) else index
    reason = str((errors[0].get("ctx") or {}).get("error", "")).strip()
    message = f"the body is not valid JSON (at byte {offset})"
    if reason:
        message += f": {reason[0].lower()}{reason[1:]}"
    return {"error": "invalid_json", "message": message, "byte": offset}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Not JSON at all is a malformed request (400), not a well-formed one that breaks the rules (422).
        not_json = malformed_json(exc)
        if not_json is not None:
            return JSONResponse(status_code=status.HTTP_400_BAD_REQUEST, content=not_json)
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            # A rule's own ValueError is a full sentence already; pydantic's "Value error, " prefix adds nothing.
            problem = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append({"field": where or "body", "problem": problem, "type": err.get("type")})
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content=jsonable_encoder({"error": "validation_failed", "message": summary, "problems": problems}),
        )

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyRequests) else None
        return JSONResponse(status_code=exc.status_code, content=jsonable_encoder(exc.body()), headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        body: dict[str, Any] = {"error": ERROR_CODES.get(exc.status_code, "error")}
        if isinstance(detail, dict):
            body.update(detail)
        else:
            body["message"] = str(detail)
        return JSONResponse(status_code=exc.status_code, content=body, headers=getattr(exc, "headers", None))

    async def database_away(request: Request, exc: Exception) -> JSONResponse:
        log.warning("the database does not answer; refused with 503", path=request.url.path, error=repr(exc))
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"error": "unavailable", "message": "the service's database does not answer; try again shortly"},
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    # The database is away: the request did nothing and may be sent again. A statement refused stays a 500.
    for away in DATABASE_AWAY:
        app.add_exception_handler(away, database_away)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            content={"error": "internal_error", "message": "an unexpected error occurred; it has been logged"},
        )

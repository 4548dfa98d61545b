"""HTTP plumbing every service shares: request context (correlation id, logs, metrics), the body-size
limit, the request's trace, and the dependencies routes take (the runtime, a unit of work, the correlation id).

The middlewares are plain ASGI callables: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware("http")``) ran
every request in an anyio task group of its own, which cost more than the rest of the middleware together.
The dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread.
"""

from __future__ import annotations

import time
import types
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import asyncpg
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing
from shared.db import Connection
from shared.logging import get_logger
from shared.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS
from shared.runtime import Runtime
from shared.uow import UnitOfWork

log = get_logger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_HEADER_RAW = CORRELATION_HEADER.lower().encode()  # ASGI header names are lower case
_UNLOGGED_PREFIXES = ("/health", "/metrics")

R = TypeVar("R")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_pool(request: Request) -> asyncpg.Pool:
    return get_runtime(request).db()


async def _pool_dependency(request: Request) -> asyncpg.Pool:
    return get_pool(request)


Db = Annotated[asyncpg.Pool, Depends(_pool_dependency)]


def correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", "") or uuid.uuid4())


async def _correlation_id_dependency(request: Request) -> str:
    return correlation_id(request)


CorrelationId = Annotated[str, Depends(_correlation_id_dependency)]


def unit_of_work(repository: Callable[[Connection], R]) -> Callable[[Request], Awaitable[UnitOfWork[R]]]:
    """A dependency giving a route a unit of work for its use case, with the request's correlation id.

    Each service declares ``Uow = Annotated[UnitOfWork[Repository], Depends(unit_of_work(Repository))]``.
    """

    async def dependency(request: Request) -> UnitOfWork[R]:
        return get_runtime(request).unit_of_work(repository, correlation_id=correlation_id(request))

    return dependency


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not a Content-Length is declared.

    The count is kept as the body streams in, so a chunked upload cannot slip past the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            too_large = JSONResponse(status_code=status.HTTP_413_CONTENT_TOO_LARGE, content=self.problem())
            await too_large(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self.problem())
            return message

        await self.app(scope, counting_receive, send)

    def problem(self) -> dict[str, str]:
        return {
            "error": "request_too_large",
            "message": f"the request body is over the limit of {self.max_bytes} bytes",
        }


class RequestContext:
    """Per request: the correlation id (the caller's ``X-Correlation-ID``, or a new one) in ``request.state``, on
    every log line written meanwhile and on the answer; the request's metrics and its log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = ""
        for name, value in scope["headers"]:
            if name == _CORRELATION_HEADER_RAW:
                cid = value.decode("latin-1")
                break
        cid = cid or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = cid
        answer = (_CORRELATION_HEADER_RAW, cid.encode("latin-1"))
        status_code = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                # Set, not added: the answer carries exactly one correlation id, the request's.
                headers = [h for h in message.get("headers", ()) if h[0].lower() != _CORRELATION_HEADER_RAW]
                headers.append(answer)
                message = {**message, "headers": headers}
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(correlation_id=cid):
            await self.app(scope, receive, send_with_id)
            elapsed = time.perf_counter() - started
            # The route template (not the raw path) keeps the metric's label set small.
            route = getattr(scope.get("route"), "path", "unmatched")
            method, path = scope["method"], scope["path"]
            HTTP_REQUESTS.labels(method, route, str(status_code)).inc()
            HTTP_REQUEST_SECONDS.labels(method, route).observe(elapsed)
            if not path.startswith(_UNLOGGED_PREFIXES):
                log.info(
                    "http request", method=method, path=path, status=status_code, duration_ms=round(elapsed * 1000, 1)
                )


class InFlightLimit:
    """At most ``limit`` requests in hand at once; past that, an immediate 503 with ``Retry-After``.

    Without it an open-loop surge queues without bound in the event loop and for the pool: every answer waits
    longer (seconds), and the service's own consumer waits behind the queue too, so the cases already accepted
    stop moving while the surge lasts (docs/PERFORMANCE.md, "Overload"). A refusal costs next to nothing and tells
    the client when to come back. Probes and metrics are never refused; ``limit`` 0 turns the limit off.
    """

    def __init__(self, app: ASGIApp, *, limit: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.in_flight = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"].startswith(_UNLOGGED_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            busy = JSONResponse(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                content={
                    "error": "service_busy",
                    "message": f"the service has {self.limit} requests in hand; try again in {self.retry_after_s} s",
                },
                headers={"Retry-After": str(self.retry_after_s)},
            )
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def install_middleware(app: FastAPI, *, max_request_bytes: int, max_requests_in_flight: int = 0) -> None:
    app.add_middleware(BodySizeLimit, max_bytes=max_request_bytes)
    # Outside the body limit (a refused request reads no body), inside the context (its 503 is logged and counted).
    app.add_middleware(InFlightLimit, limit=max_requests_in_flight)
    app.add_middleware(RequestContext)  # added last: the outer one, so it sees the body limit's 413 too


class _TracedWhileRecording:
    """The app's middleware stack twice: with the ASGI instrumentation's spans while spans are recorded
    (exported, or a test records them), and without it otherwise, the request then running in
    ``tracing.request_trace`` (its trace ids, no span made)."""

    def __init__(self, *, traced: ASGIApp, plain: ASGIApp) -> None:
        self.traced = traced
        self.plain = plain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if tracing.recording():
            await self.traced(scope, receive, send)
        elif scope["type"] == "http":
            with tracing.request_trace(scope["headers"]):
                await self.plain(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


def trace_requests(app: FastAPI, *, excluded_urls: str) -> None:
    """Trace the app's requests (FastAPI's OpenTelemetry instrumentation) while spans are recorded."""
    plain = app.build_middleware_stack
    FastAPIInstrumentor.instrument_app(app, excluded_urls=excluded_urls)
    traced = app.build_middleware_stack

    def build_middleware_stack(self: FastAPI) -> ASGIApp:
        return _TracedWhileRecording(traced=traced(), plain=plain())

    # Starlette builds the stack on the first call (after every route and handler is in place).
    app.build_middleware_stack = types.MethodType(build_middleware_stack, app)  # type: ignore[method-assign]

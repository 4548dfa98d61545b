"""One builder for every service's process: FastAPI routes + the FastStream broker in the lifespan.

A service describes itself with a ``ServiceDefinition`` (name, settings, migrations,
event handlers, HTTP routers, background jobs); ``create_app`` wires the rest:
migrations at start-up, the database pool, the outbox relay, the Kafka consumer
with the reliability protocol, health, metrics, AsyncAPI, dead-letter operations,
request logging with correlation ids, and error bodies that say what is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Request,
    Response,
    status,
)
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.kafka.annotations import KafkaMessage
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import housekeeping, lag, outbox, topics
from shared.auth import Operator
from shared.consumer import EventConsumer, EventRouter, HandlingFailed
from shared.db import apply_migrations, create_pool
from shared.errors import Refused
from shared.events import EventPayload
from shared.kafka import EventProducer, consumer_group, create_broker
from shared.logging import configure_logging, get_logger
from shared.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.settings import ServiceSettings, jwt_secret_is_default

log = get_logger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"


@dataclass
class Runtime:
    """The live resources of one service process, available to routes as ``request.app.state.runtime``."""

    settings: ServiceSettings
    service: str
    pool: asyncpg.Pool | None = None
    producer: EventProducer | None = None
    relay: outbox.OutboxRelay | None = None
    consumer: EventConsumer | None = None
    consumer_lag: dict[str, int] = field(default_factory=dict)

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("database pool not started")
        return self.pool

    def dead_letter_sink(self) -> EventProducer:
        if self.producer is None:
            raise RuntimeError("producer not started")
        return self.producer


BackgroundJob = Callable[[Runtime], Coroutine[Any, Any, None]]


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    settings: ServiceSettings
    migrations: Path
    api_routers: Sequence[APIRouter] = ()
    event_router: EventRouter | None = None
    consumes: Sequence[str] = ()
    publishes: Sequence[type[EventPayload]] = ()
    background_jobs: Sequence[BackgroundJob] = ()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_pool(request: Request) -> asyncpg.Pool:
    return get_runtime(request).db()


Db = Annotated[asyncpg.Pool, Depends(get_pool)]


def correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", "") or uuid.uuid4())


CorrelationId = Annotated[str, Depends(correlation_id)]


def create_app(definition: ServiceDefinition) -> FastAPI:
    settings = definition.settings
    configure_logging(definition.name, level=settings.log_level, fmt=settings.log_format)
    runtime = Runtime(settings=settings, service=definition.name)
    broker = create_broker(settings.kafka_bootstrap, service=definition.name)

    group = settings.consumer_group or consumer_group(definition.name)
    if definition.event_router is not None and definition.consumes:
        consumer = EventConsumer(
            service=definition.name,
            router=definition.event_router,
            pool_provider=runtime.db,
            dead_letters=runtime.dead_letter_sink,
            dead_letter_topic=topics.dead_letter_topic(definition.name),
            max_attempts=settings.handler_max_attempts,
            backoff_base_s=settings.handler_backoff_base_s,
            backoff_max_s=settings.handler_backoff_max_s,
        )
        runtime.consumer = consumer

        @broker.subscriber(
            *definition.consumes,
            group_id=group,
            auto_offset_reset="earliest",
            max_poll_records=100,
            title=f"{definition.name}-consumer",
            description=f"{definition.title} consumes: " + ", ".join(sorted(definition.event_router.handlers)),
        )
        async def on_message(message: KafkaMessage) -> None:
            await consumer.process(message.raw_message)  # type: ignore[arg-type]

    for payload_type in definition.publishes:
        broker.publisher(
            payload_type.topic,
            title=payload_type.event_type,
            schema=payload_type,
            description=f"CloudEvents envelope whose data is {payload_type.__name__}",
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if jwt_secret_is_default(settings):
            log.warning("KIPINA_JWT_SECRET is the development default; set a real secret outside development")
        applied = await apply_migrations(settings.database_url, definition.migrations)
        log.info("migrations applied", applied=applied)
        runtime.pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        runtime.producer = EventProducer(settings.kafka_bootstrap, service=definition.name)
        await runtime.producer.start()
        runtime.relay = outbox.OutboxRelay(
            runtime.pool,
            runtime.producer.publish_batch,
            dsn=settings.database_url,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
        )
        await runtime.relay.start()
        await broker.start()
        jobs = [
            asyncio.create_task(job(runtime), name=getattr(job, "__name__", "job"))
            for job in definition.background_jobs
        ]
        jobs.append(
            asyncio.create_task(
                housekeeping.run_periodically(
                    runtime.pool,
                    interval_s=settings.housekeeping_interval_s,
                    outbox_retention_hours=settings.outbox_retention_hours,
                    inbox_retention_hours=settings.inbox_retention_hours,
                    dead_letter_retention_hours=settings.dead_letter_retention_hours,
                ),
                name="housekeeping",
            )
        )
        if runtime.consumer is not None:
            jobs.append(
                asyncio.create_task(
                    lag.watch(
                        settings.kafka_bootstrap,
                        group=group,
                        topics=definition.consumes,
                        interval_s=settings.lag_interval_s,
                        latest=runtime.consumer_lag,
                    ),
                    name="consumer-lag",
                )
            )
        log.info("service started", host=settings.host, port=settings.port)
        try:
            yield
        finally:
            for job_task in jobs:
                job_task.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await broker.stop()
            await runtime.relay.stop()
            await runtime.producer.stop()
            await runtime.pool.close()
            log.info("service stopped")

    app = FastAPI(
        title=f"Kipinä {definition.title}",
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.broker = broker
    _install_middleware(app, settings)
    _install_error_handlers(app)
    app.include_router(_operations_router(definition, broker))
    for router in definition.api_routers:
        app.include_router(router)
    return app


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


def _install_middleware(app: FastAPI, settings: ServiceSettings) -> None:
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    @app.middleware("http")
    async def context_and_limits(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cid = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        request.state.correlation_id = cid
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(correlation_id=cid):
            response = await call_next(request)
            elapsed = time.perf_counter() - started
            # The route template (not the raw path) keeps the metric's label set small.
            route = getattr(request.scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            HTTP_REQUEST_SECONDS.labels(request.method, route).observe(elapsed)
            if not request.url.path.startswith(("/health", "/metrics")):
                log.info(
                    "http request",
                    method=request.method,
                    path=request.url.path,
                    status=response.status_code,
                    duration_ms=round(elapsed * 1000, 1),
                )
        response.headers[CORRELATION_HEADER] = cid
        return response


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append({"field": where or "body", "problem": err.get("msg", "invalid"), "type": err.get("type")})
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content=jsonable_encoder({"error": "validation_failed", "message": summary, "problems": problems}),
        )

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=jsonable_encoder(exc.body()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        body: dict[str, Any] = {"error": _error_code(exc.status_code)}
        if isinstance(detail, dict):
            body.update(detail)
        else:
            body["message"] = str(detail)
        return JSONResponse(status_code=exc.status_code, content=body, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            content={"error": "internal_error", "message": "an unexpected error occurred; it has been logged"},
        )


def _error_code(status_code: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "request_too_large",
        422: "validation_failed",
    }.get(status_code, "error")


def _operations_router(definition: ServiceDefinition, broker: Any) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", include_in_schema=True)
    async def live() -> dict[str, str]:
        return {"status": "live", "service": definition.name}

    @router.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        runtime = get_runtime(request)
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(runtime.db().fetchval("SELECT 1"), 2.0)
            checks["database"] = {"ok": True}
        except Exception as exc:
            checks["database"] = {"ok": False, "error": repr(exc)}
        try:
            checks["kafka"] = {"ok": bool(await broker.ping(timeout=2.0))}
        except Exception as exc:
            checks["kafka"] = {"ok": False, "error": repr(exc)}
        ok = all(c["ok"] for c in checks.values())
        return JSONResponse(
            status_code=200 if ok else 503,
            content={"status": "ready" if ok else "not_ready", "service": definition.name, "checks": checks},
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        with contextlib.suppress(Exception):
            n, age = await outbox.backlog(get_runtime(request).db())
            OUTBOX_BACKLOG.set(n)
            OUTBOX_OLDEST_AGE.set(age)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    def asyncapi_schema() -> Any:
        return AsyncAPI(broker, title=f"Kipinä {definition.title}", version="0.1.0", description=definition.description)

    @router.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(asyncapi_schema().to_specification().to_jsonable())

    @router.get("/asyncapi", include_in_schema=False)
    async def asyncapi_html() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(asyncapi_schema().to_specification()))

    @router.get("/ops/status")
    async def ops_status(request: Request, _: Operator) -> dict[str, Any]:
        pool = get_runtime(request).db()
        n, age = await outbox.backlog(pool)
        dead = await pool.fetchval("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")
        handled = await pool.fetchval("SELECT count(*) FROM inbox")
        return {
            "service": definition.name,
            "outbox": {"pending": n, "oldest_pending_age_s": round(age, 3)},
            "dead_letters_pending": dead,
            "consumer_lag": get_runtime(request).consumer_lag,
            "events_handled": handled,
        }

    @router.get("/ops/dead-letters")
    async def list_dead_letters(
        request: Request, _: Operator, limit: int = 50, offset: int = 0, include_replayed: bool = False
    ) -> dict[str, Any]:
        limit = max(1, min(limit, 500))
        rows = (
            await get_runtime(request)
            .db()
            .fetch(
                """
            SELECT id, source_topic, source_partition, source_offset, event_id, event_type, error, attempts,
                   failed_at, replayed_at
            FROM dead_letters WHERE ($3 OR replayed_at IS NULL)
            ORDER BY id DESC LIMIT $1 OFFSET $2
            """,
                limit,
                max(0, offset),
                include_replayed,
            )
        )
        return {"items": [dict(r) for r in rows], "limit": limit, "offset": offset}

    @router.post("/ops/dead-letters/{dead_letter_id}/replay")
    async def replay_dead_letter(request: Request, dead_letter_id: int, _: Operator) -> dict[str, Any]:
        consumer = get_runtime(request).consumer
        if consumer is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this service consumes no events")
        try:
            outcome = await consumer.replay(dead_letter_id)
        except LookupError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead letter {dead_letter_id}") from exc
        except HandlingFailed as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, f"replay failed again: {exc}") from exc
        return {"id": dead_letter_id, "outcome": outcome}

    return router


def run(app_path: str, settings: ServiceSettings) -> None:
    """Serve a service with uvicorn (used by each service's ``__main__``)."""
    import uvicorn

    uvicorn.run(app_path, factory=True, host=settings.host, port=settings.port, log_config=None, access_log=False)

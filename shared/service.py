"""One builder for every service's process: a ``ServiceDefinition`` in, a FastAPI app out.

A service describes itself once (its registry part, settings, migrations, HTTP routers, event
router, what it publishes, background jobs); ``create_app`` wires the rest: tracing and logging,
migrations at start-up, the database pool, the outbox relay, the Kafka consumer with the
reliability protocol, the operations routes (shared/operations.py), the pages (shared/web), the request context and
body limit (shared/http.py), the error mapping (shared/http_errors.py) and the OpenAPI's roles and
refusals of every operation (shared/openapi.py).

The topics a service subscribes to are derived from its event router, so a handler can never
silently not run; what it emits is checked against ``publishes`` by every unit of work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka.annotations import KafkaMessage

from shared import housekeeping, lag, outbox, topics
from shared.consumer import EventConsumer, EventRouter, PartitionResult
from shared.db import apply_migrations, create_pool
from shared.events import EventPayload
from shared.glance import DashboardHook, DependencyCheck
from shared.http import install_middleware, trace_requests
from shared.http_errors import install_error_handlers
from shared.kafka import BatchConsumer, EventProducer, create_broker
from shared.logging import configure_logging, get_logger
from shared.openapi import document_operations
from shared.operations import ContributedChecks, operations_router
from shared.registry import Part
from shared.runtime import Runtime
from shared.settings import ServiceSettings, jwt_secret_is_default
from shared.tracing import configure_tracing
from shared.web.ops import ops_pages_router
from shared.web.pages import install_pages

log = get_logger(__name__)

BackgroundJob = Callable[[Runtime], Coroutine[Any, Any, None]]


@dataclass
class ServiceDefinition:
    part: Part
    description: str
    settings: ServiceSettings
    migrations: Path
    api_routers: Sequence[APIRouter] = ()
    event_router: EventRouter | None = None
    publishes: Sequence[type[EventPayload]] = ()
    background_jobs: Sequence[BackgroundJob] = ()
    # The service's own pages for people (HTML, outside the OpenAPI), beside the shared ones of shared/web.
    page_routers: Sequence[APIRouter] = ()
    # The service's own domain at a glance on the operator dashboard (shared/glance.py).
    dashboard: DashboardHook | None = None
    # Dependencies of the service's own, looked at on the operator dashboard only, never by /health/ready
    # (shared/glance.py): name (the word ``dependency.<name>``) → check.
    dependency_checks: Mapping[str, DependencyCheck] = field(default_factory=dict)
    # Test doubles only: read these topics instead of those the router's payload types travel on.
    subscribe_to: Sequence[str] | None = None

    @property
    def name(self) -> str:
        return self.part.name

    @property
    def consumes(self) -> list[str]:
        if self.event_router is None:
            return []
        return list(self.subscribe_to) if self.subscribe_to is not None else self.event_router.topics


def create_app(definition: ServiceDefinition) -> FastAPI:
    settings = definition.settings
    configure_tracing(definition.name)
    configure_logging(definition.name, level=settings.log_level, fmt=settings.log_format)
    runtime = Runtime(settings=settings, service=definition.name, publishes=tuple(definition.publishes))
    # The broker answers Kafka's readiness (ping) and consumes nothing; ``specification`` is never started: it only
    # describes what the service consumes and publishes, for /asyncapi. The BatchConsumer below consumes.
    broker = create_broker(settings.kafka_bootstrap, service=definition.name)
    specification = create_broker(settings.kafka_bootstrap, service=definition.name)

    group = settings.consumer_group or definition.part.consumer_group
    consumes = definition.consumes
    if definition.event_router is not None and consumes:
        consumer = EventConsumer(
            service=definition.name,
            router=definition.event_router,
            pool_provider=runtime.event_db,
            dead_letters=runtime.dead_letter_sink,
            dead_letter_topic=topics.dead_letter_topic(definition.name),
            publishes=frozenset(definition.publishes),
            max_attempts=settings.handler_max_attempts,
            backoff_base_s=settings.handler_backoff_base_s,
            backoff_max_s=settings.handler_backoff_max_s,
        )
        runtime.consumer = consumer

        @specification.subscriber(
            *consumes,
            group_id=group,
            auto_offset_reset="earliest",
            title=f"{definition.name}-consumer",
            description=f"{definition.part.title} consumes: " + ", ".join(sorted(definition.event_router.handlers)),
        )
        async def on_message(message: KafkaMessage) -> None:  # describes the channel only; never started
            raise NotImplementedError("the BatchConsumer consumes")

        async def handle_partition(records: Sequence[Any], stopping: Callable[[], bool]) -> PartitionResult:
            return await consumer.process_partition(records, stopping=stopping)

        runtime.consumer_loop = BatchConsumer(
            settings.kafka_bootstrap,
            service=definition.name,
            group=group,
            topics=consumes,
            handle=handle_partition,
            max_records=settings.consumer_max_records,
            retry_after_s=settings.handler_backoff_base_s,
        )

    for payload_type in definition.publishes:
        specification.publisher(
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
        runtime.event_pool = await create_pool(settings.database_url, min_size=1, max_size=settings.db_event_pool_max)
        runtime.producer = EventProducer(settings.kafka_bootstrap, service=definition.name)
        await runtime.producer.start()
        runtime.relay = outbox.OutboxRelay(
            runtime.event_pool,
            runtime.producer.publish_batch,
            dsn=settings.database_url,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
        )
        await runtime.relay.start()
        await broker.start()
        if runtime.consumer_loop is not None:
            await runtime.consumer_loop.start()
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
                        topics=consumes,
                        interval_s=settings.lag_interval_s,
                        latest=runtime.consumer_lag,
                        partitions=runtime.partition_lag,
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
            if runtime.consumer_loop is not None:
                await runtime.consumer_loop.stop()  # finishes the batch in hand and commits its offsets
            await broker.stop()
            await runtime.relay.stop()
            await runtime.producer.stop()
            await runtime.event_pool.close()
            await runtime.pool.close()
            log.info("service stopped")

    app = FastAPI(
        title=f"Kipinä {definition.part.title}",
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry spans, metrics and logs stay off: requests are traced by the OpenTelemetry
        # instrumentation while spans are recorded (shared/http.py trace_requests). FastAPI would otherwise
        # trace each request and its dependencies, endpoint and serialization besides, recorded or not.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.dashboard = definition.dashboard
    app.state.dependency_checks = ContributedChecks(definition.dependency_checks)
    app.state.broker = broker
    install_middleware(
        app, max_request_bytes=settings.max_request_bytes, max_requests_in_flight=settings.max_requests_in_flight
    )
    install_error_handlers(app)
    app.include_router(
        operations_router(
            service=definition.name,
            title=definition.part.title,
            description=definition.description,
            broker=broker,
            specification=specification,
        )
    )
    for router in definition.api_routers:
        app.include_router(router)
    # Pages for people (sign-in, home; shared/web): HTML, outside the API's OpenAPI.
    install_pages(app, definition.part)
    app.include_router(ops_pages_router())
    for router in definition.page_routers:
        app.include_router(router)
    document_operations(app)
    # Health probes and metrics scrapes would only add noise to traces.
    trace_requests(app, excluded_urls="/health/live,/health/ready,/metrics")
    return app


def run(app_path: str, settings: ServiceSettings) -> None:
    """Serve a service with uvicorn (used by each service's ``__main__``).

    uvloop runs the process's event loop (the HTTP server, the consumer, the relay and the jobs alike) and
    httptools parses HTTP: both are C, and pyproject.toml declares them, so they are named rather than left to
    uvicorn's "auto", which would quietly fall back to the pure-Python asyncio loop and h11 if they were missing.
    """
    import uvicorn

    uvicorn.run(
        app_path,
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        # request.client is the TCP peer: uvicorn would otherwise take X-Forwarded-For from any local peer. A
        # service that needs the client behind a proxy trusts it explicitly (intake's KIPINA_INTAKE_TRUSTED_PROXIES).
        proxy_headers=False,
    )

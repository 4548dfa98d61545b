"""The routes every service has for the people who run it: health, metrics, AsyncAPI, status and dead letters.

Their SQL is in ``shared/repository.py``; refusals are ``shared.errors`` like everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from shared.auth import Operator
from shared.bodies import RequestBody
from shared.consumer import HandlingFailed
from shared.errors import Conflict, NotFound
from shared.http import get_runtime
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.openapi import PUBLIC
from shared.pagination import Limit, Offset, Page
from shared.repository import DeadLetter, DeadLetterAction, ReliabilityRepository
from shared.runtime import Runtime

# Dead letter ids are PostgreSQL bigserial: anything larger names none (and would not fit the query).
DeadLetterId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the dead letter's id")]


class Liveness(BaseModel):
    status: str = Field(description="always `live`: the process answers")
    service: str


class Readiness(BaseModel):
    status: str = Field(description="`ready` when the database and Kafka answer, else `not_ready`")
    service: str
    checks: dict[str, dict[str, Any]] = Field(description="per dependency: `ok`, and the `error` when not")


class OutboxStatus(BaseModel):
    pending: int
    oldest_pending_age_s: float


class OpsStatus(BaseModel):
    service: str
    outbox: OutboxStatus
    dead_letters_pending: int
    consumer_lag: dict[str, int] = Field(description="per topic: messages not yet consumed by this service")
    events_handled: int


class DeadLetterView(BaseModel):
    id: int
    source_topic: str
    source_partition: int
    source_offset: int
    event_id: str | None
    event_type: str | None
    error: str
    attempts: int
    failed_at: datetime
    replayed_at: datetime | None
    discarded_at: datetime | None = None
    discarded_by: str | None = None
    discard_reason: str | None = None


class ReplayView(BaseModel):
    id: int
    outcome: str = Field(description="what the handler did with the event this time")


class DiscardRequest(RequestBody):
    reason: str = Field(min_length=1, max_length=2000, description="why the dead letter is given up on")


class DiscardView(BaseModel):
    id: int
    discarded_by: str
    reason: str


async def dependency_checks(runtime: Runtime, broker: KafkaBroker) -> dict[str, dict[str, Any]]:
    """Per dependency (the service's database, Kafka): ``ok``, and the ``error`` when not."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        await asyncio.wait_for(runtime.db().fetchval("SELECT 1"), 2.0)
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": repr(exc)}
    try:
        checks["kafka"] = {"ok": bool(await broker.ping(timeout=2.0))}
    except Exception as exc:
        checks["kafka"] = {"ok": False, "error": repr(exc)}
    return checks


async def replay(runtime: Runtime, dead_letter_id: int, *, actor: str) -> DeadLetterAction:
    """Handle the dead letter's event again and record the action (who, when, outcome), failed or not.

    Raises ``NotFound`` (unknown, or the service consumes nothing) and ``Conflict`` (discarded).
    """
    consumer = runtime.consumer
    if consumer is None:
        raise NotFound("this service consumes no events")
    repo = ReliabilityRepository(runtime.db())
    letter = await repo.dead_letter(dead_letter_id, consumer=consumer.name)
    if letter is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    if letter.discarded_at is not None:
        raise Conflict(f"dead letter {dead_letter_id} was discarded by {letter.discarded_by}; it cannot be replayed")
    try:
        outcome, succeeded = await consumer.replay(dead_letter_id), True
    except LookupError as exc:
        raise NotFound(f"no dead letter {dead_letter_id}") from exc
    except HandlingFailed as exc:
        outcome, succeeded = f"replay failed again: {exc}", False
    action_id = await repo.record_dead_letter_action(
        dead_letter_id=dead_letter_id, action="replay", actor=actor, succeeded=succeeded, outcome=outcome, reason=None
    )
    recorded = await repo.dead_letter_action(action_id)
    assert recorded is not None
    return recorded


async def discard(runtime: Runtime, dead_letter_id: int, *, actor: str, reason: str) -> DeadLetterAction:
    """Give up on a waiting dead letter, with the operator's reason, and record the action.

    Raises ``NotFound`` (unknown) and ``Conflict`` (already replayed or discarded).
    """
    consumer = runtime.consumer
    if consumer is None:
        raise NotFound("this service consumes no events")
    async with runtime.db().acquire() as connection, connection.transaction():
        repo = ReliabilityRepository(connection)
        if not await repo.discard_dead_letter(dead_letter_id, consumer=consumer.name, actor=actor, reason=reason):
            letter = await repo.dead_letter(dead_letter_id, consumer=consumer.name)
            if letter is None:
                raise NotFound(f"no dead letter {dead_letter_id}")
            state = "discarded" if letter.discarded_at is not None else "replayed"
            raise Conflict(f"dead letter {dead_letter_id} was already {state}; only a waiting one can be discarded")
        action_id = await repo.record_dead_letter_action(
            dead_letter_id=dead_letter_id,
            action="discard",
            actor=actor,
            succeeded=True,
            outcome="discarded",
            reason=reason,
        )
        recorded = await repo.dead_letter_action(action_id)
    assert recorded is not None
    return recorded


def _dead_letter_view(d: DeadLetter) -> DeadLetterView:
    return DeadLetterView(
        id=d.id,
        source_topic=d.source_topic,
        source_partition=d.source_partition,
        source_offset=d.source_offset,
        event_id=d.event_id,
        event_type=d.event_type,
        error=d.error,
        attempts=d.attempts,
        failed_at=d.failed_at,
        replayed_at=d.replayed_at,
        discarded_at=d.discarded_at,
        discarded_by=d.discarded_by,
        discard_reason=d.discard_reason,
    )


def operations_router(*, service: str, title: str, description: str, broker: KafkaBroker) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", openapi_extra=PUBLIC)
    async def live() -> Liveness:
        return Liveness(status="live", service=service)

    @router.get(
        "/health/ready",
        openapi_extra=PUBLIC,
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "the database or Kafka does not answer"}},
    )
    async def ready(request: Request) -> JSONResponse:
        checks = await dependency_checks(get_runtime(request), broker)
        ok = all(c["ok"] for c in checks.values())
        return JSONResponse(
            status_code=200 if ok else 503,
            content={"status": "ready" if ok else "not_ready", "service": service, "checks": checks},
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        with contextlib.suppress(Exception):
            backlog = await ReliabilityRepository(get_runtime(request).db()).backlog()
            OUTBOX_BACKLOG.set(backlog.pending)
            OUTBOX_OLDEST_AGE.set(backlog.oldest_age_s)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    def asyncapi_schema() -> Any:
        return AsyncAPI(broker, title=f"Kipinä {title}", version="0.1.0", description=description)

    @router.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(asyncapi_schema().to_specification().to_jsonable())

    @router.get("/asyncapi", include_in_schema=False)
    async def asyncapi_html() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(asyncapi_schema().to_specification()))

    @router.get("/ops/status")
    async def ops_status(request: Request, _: Operator) -> OpsStatus:
        runtime = get_runtime(request)
        repo = ReliabilityRepository(runtime.db())
        backlog = await repo.backlog()
        return OpsStatus(
            service=service,
            outbox=OutboxStatus(pending=backlog.pending, oldest_pending_age_s=round(backlog.oldest_age_s, 3)),
            dead_letters_pending=await repo.count_pending_dead_letters(),
            consumer_lag=runtime.consumer_lag,
            events_handled=await repo.count_handled(),
        )

    @router.get("/ops/dead-letters")
    async def list_dead_letters(
        request: Request, _: Operator, limit: Limit = 50, offset: Offset = 0, include_replayed: bool = False
    ) -> Page[DeadLetterView]:
        """What this service's consumer gave up on and still waits, newest first; replayed and discarded ones too
        with ``include_replayed``."""
        repo = ReliabilityRepository(get_runtime(request).db())
        letters = await repo.list_dead_letters(include_replayed=include_replayed, limit=limit, offset=offset)
        return Page[DeadLetterView](
            items=[_dead_letter_view(d) for d in letters],
            limit=limit,
            offset=offset,
            total=await repo.count_dead_letters(include_replayed=include_replayed),
        )

    @router.post(
        "/ops/dead-letters/{dead_letter_id}/replay",
        responses={409: {"description": "the handler failed again; the dead letter stays"}},
    )
    async def replay_dead_letter(request: Request, dead_letter_id: DeadLetterId, who: Operator) -> ReplayView:
        """Handle the dead letter's event again, in this service only; the action is recorded either way."""
        action = await replay(get_runtime(request), dead_letter_id, actor=who.user_id)
        if not action.succeeded:
            raise Conflict(action.outcome)
        return ReplayView(id=dead_letter_id, outcome=action.outcome)

    @router.post(
        "/ops/dead-letters/{dead_letter_id}/discard",
        responses={409: {"description": "the dead letter was already replayed or discarded"}},
    )
    async def discard_dead_letter(
        request: Request, dead_letter_id: DeadLetterId, body: DiscardRequest, who: Operator
    ) -> DiscardView:
        """Give up on a waiting dead letter, saying why; it leaves the waiting list and the action is recorded."""
        await discard(get_runtime(request), dead_letter_id, actor=who.user_id, reason=body.reason)
        return DiscardView(id=dead_letter_id, discarded_by=who.user_id, reason=body.reason)

    return router

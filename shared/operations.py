"""The routes every service has for the people who run it: health, metrics, AsyncAPI, status and dead letters.

Their SQL is in ``shared/repository.py``; refusals are ``shared.errors`` like everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
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
from shared.glance import DependencyCheck
from shared.http import get_runtime
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.openapi import PUBLIC
from shared.pagination import Limit, Offset, Page
from shared.repository import DeadLetter, DeadLetterAction, ReliabilityRepository
from shared.runtime import Runtime

# Dead letter ids are PostgreSQL bigserial: anything larger names none (and would not fit the query).
DeadLetterId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the dead letter's id")]

# One "replay all" request replays at most this many dead letters, so it is never an unbounded request; it says how
# many remain, and the next request continues after the last one it reached.
REPLAY_ALL_MAX = 500
# A service's own dependency checks run at most this often per process (the dashboard polls every few seconds, and
# an SMTP server need not be greeted that often), each given at most CHECK_TIMEOUT_S.
CHECKS_TTL_S = 10.0
CHECK_TIMEOUT_S = 5.0


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


class PartitionLagView(BaseModel):
    topic: str
    partition: int
    committed: int | None = Field(description="the consumer group's committed offset; null when it committed none")
    end: int = Field(description="the partition's end offset")
    lag: int = Field(description="messages not yet consumed by this service")


class OpsStatus(BaseModel):
    service: str
    outbox: OutboxStatus
    dead_letters_pending: int
    consumer_lag: dict[str, int] = Field(description="per topic: messages not yet consumed by this service")
    consumer_lag_partitions: list[PartitionLagView] = Field(
        default_factory=list, description="per topic partition, as last measured (every `LAG_INTERVAL_S`)"
    )
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


class ReplayResultView(BaseModel):
    id: int = Field(description="the dead letter's id")
    action_id: int = Field(description="the recorded action (`dead_letter_actions`)")
    succeeded: bool
    outcome: str


class ReplayAllView(BaseModel):
    replayed: int = Field(description="dead letters handled again")
    failed: int = Field(description="dead letters that failed again: each is recorded and stays waiting")
    skipped: int = Field(description="no longer waiting when their turn came (replayed or discarded meanwhile)")
    remaining: int = Field(
        description="waiting dead letters after `last_id` that this request did not reach (beyond `limit`); "
        "ask again with `after=last_id`"
    )
    last_id: int | None = Field(description="the last dead letter this request reached; null when none waited")
    results: list[ReplayResultView] = Field(description="every replay, in id order")


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
    if runtime.consumer_loop is not None and checks["kafka"]["ok"]:
        # Kafka answers, but the service is not ready if its consumer loop has ended.
        consuming, why = runtime.consumer_loop.health()
        if not consuming:
            checks["kafka"] = {"ok": False, "error": why}
    return checks


class ContributedChecks:
    """A service's own dependency checks (``ServiceDefinition.dependency_checks``) for the dashboard.

    They run concurrently, each bounded by ``CHECK_TIMEOUT_S``; a check that raises or times out is not ok, with
    the error. Their results are kept ``CHECKS_TTL_S`` so the dashboard's polling does not greet an SMTP server every
    few seconds. Readiness never asks them.
    """

    def __init__(self, checks: Mapping[str, DependencyCheck]) -> None:
        self._checks = dict(checks)
        self._results: dict[str, dict[str, Any]] = {}
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def results(self, runtime: Runtime) -> dict[str, dict[str, Any]]:
        if not self._checks:
            return {}
        async with self._lock:  # dashboards polling at once share one round of checks
            if time.monotonic() - self._checked_at >= CHECKS_TTL_S:
                names = list(self._checks)
                done = await asyncio.gather(*(self._run(self._checks[n], runtime) for n in names))
                self._results = dict(zip(names, done, strict=True))
                self._checked_at = time.monotonic()
        return self._results

    @staticmethod
    async def _run(check: DependencyCheck, runtime: Runtime) -> dict[str, Any]:
        try:
            health = await asyncio.wait_for(check(runtime), CHECK_TIMEOUT_S)
        except Exception as exc:
            return {"ok": False, "error": repr(exc)}
        result: dict[str, Any] = {"ok": health.ok, "detail": health.detail, "values": dict(health.values)}
        if health.error is not None:
            result["error"] = health.error
        return result


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


@dataclass(frozen=True)
class ReplayedAll:
    """What one "replay all" did: every replay's recorded action (in id order), and what it left."""

    actions: list[DeadLetterAction]
    skipped: int
    remaining: int
    last_id: int | None

    @property
    def replayed(self) -> int:
        return sum(1 for a in self.actions if a.succeeded)

    @property
    def failed(self) -> int:
        return sum(1 for a in self.actions if not a.succeeded)


async def replay_all(runtime: Runtime, *, actor: str, after: int = 0, limit: int = REPLAY_ALL_MAX) -> ReplayedAll:
    """Replay the waiting dead letters after ``after`` in id order, at most ``limit``, each as ``replay`` does (its
    own recorded action; one failing again is recorded and the next one is replayed all the same).

    Raises ``NotFound`` when the service consumes nothing.
    """
    consumer = runtime.consumer
    if consumer is None:
        raise NotFound("this service consumes no events")
    repo = ReliabilityRepository(runtime.db())
    ids = await repo.waiting_dead_letter_ids(consumer=consumer.name, after=after, limit=min(limit, REPLAY_ALL_MAX))
    actions: list[DeadLetterAction] = []
    skipped = 0
    for dead_letter_id in ids:
        try:
            actions.append(await replay(runtime, dead_letter_id, actor=actor))
        except (NotFound, Conflict):  # another operator discarded it (or housekeeping purged it) meanwhile
            skipped += 1
    last_id = ids[-1] if ids else None
    remaining = await repo.count_waiting_after(consumer=consumer.name, after=last_id if last_id is not None else after)
    return ReplayedAll(actions=actions, skipped=skipped, remaining=remaining, last_id=last_id)


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


def operations_router(
    *, service: str, title: str, description: str, broker: KafkaBroker, specification: KafkaBroker | None = None
) -> APIRouter:
    """``broker`` answers readiness; ``specification`` (by default the same) describes the service's events."""
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
        return AsyncAPI(specification or broker, title=f"Kipinä {title}", version="0.1.0", description=description)

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
            consumer_lag_partitions=[
                PartitionLagView(topic=p.topic, partition=p.partition, committed=p.committed, end=p.end, lag=p.lag)
                for p in runtime.partition_lag
            ],
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

    @router.post("/ops/dead-letters/replay-all", responses={404: {"description": "this service consumes no events"}})
    async def replay_all_dead_letters(
        request: Request,
        who: Operator,
        after: Annotated[
            int, Query(ge=0, le=2**63 - 1, description="start after this dead letter id (a previous `last_id`)")
        ] = 0,
        limit: Annotated[
            int, Query(ge=1, le=REPLAY_ALL_MAX, description=f"at most this many (at most {REPLAY_ALL_MAX})")
        ] = REPLAY_ALL_MAX,
    ) -> ReplayAllView:
        """Replay every waiting dead letter, oldest first, in this service only: each replay is recorded as its own
        action; one that fails again is counted, stays waiting and does not stop the rest. At most `limit` in one
        request: `remaining` says how many wait beyond it, and `after=last_id` continues."""
        done = await replay_all(get_runtime(request), actor=who.user_id, after=after, limit=limit)
        return ReplayAllView(
            replayed=done.replayed,
            failed=done.failed,
            skipped=done.skipped,
            remaining=done.remaining,
            last_id=done.last_id,
            results=[
                ReplayResultView(id=a.dead_letter_id, action_id=a.id, succeeded=a.succeeded, outcome=a.outcome)
                for a in done.actions
            ],
        )

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

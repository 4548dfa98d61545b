"""The routes every service has for the people who run it: health, metrics, AsyncAPI, status and dead letters.

Their SQL is in ``shared/repository.py``; refusals are ``shared.errors`` like everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.auth import Operator
from shared.consumer import HandlingFailed
from shared.errors import Conflict, NotFound
from shared.http import get_runtime
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.repository import ReliabilityRepository


def operations_router(*, service: str, title: str, description: str, broker: KafkaBroker) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", include_in_schema=True)
    async def live() -> dict[str, str]:
        return {"status": "live", "service": service}

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
    async def ops_status(request: Request, _: Operator) -> dict[str, Any]:
        runtime = get_runtime(request)
        repo = ReliabilityRepository(runtime.db())
        backlog = await repo.backlog()
        return {
            "service": service,
            "outbox": {"pending": backlog.pending, "oldest_pending_age_s": round(backlog.oldest_age_s, 3)},
            "dead_letters_pending": await repo.count_pending_dead_letters(),
            "consumer_lag": runtime.consumer_lag,
            "events_handled": await repo.count_handled(),
        }

    @router.get("/ops/dead-letters")
    async def list_dead_letters(
        request: Request, _: Operator, limit: int = 50, offset: int = 0, include_replayed: bool = False
    ) -> dict[str, Any]:
        limit = max(1, min(limit, 500))
        letters = await ReliabilityRepository(get_runtime(request).db()).list_dead_letters(
            include_replayed=include_replayed, limit=limit, offset=max(0, offset)
        )
        items = [
            {
                "id": d.id,
                "source_topic": d.source_topic,
                "source_partition": d.source_partition,
                "source_offset": d.source_offset,
                "event_id": d.event_id,
                "event_type": d.event_type,
                "error": d.error,
                "attempts": d.attempts,
                "failed_at": d.failed_at,
                "replayed_at": d.replayed_at,
            }
            for d in letters
        ]
        return {"items": items, "limit": limit, "offset": offset}

    @router.post("/ops/dead-letters/{dead_letter_id}/replay")
    async def replay_dead_letter(request: Request, dead_letter_id: int, _: Operator) -> dict[str, Any]:
        consumer = get_runtime(request).consumer
        if consumer is None:
            raise NotFound("this service consumes no events")
        try:
            outcome = await consumer.replay(dead_letter_id)
        except LookupError as exc:
            raise NotFound(f"no dead letter {dead_letter_id}") from exc
        except HandlingFailed as exc:
            raise Conflict(f"replay failed again: {exc}") from exc
        return {"id": dead_letter_id, "outcome": outcome}

    return router

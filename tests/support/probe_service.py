"""A minimal service built with the same ``shared.service.create_app`` as the real services.

It proves the reliability protocol itself (inbox, retries, dead letters, acks) on a
topic of its own, so those tests neither depend on nor disturb a real service.
The handler records one row per run in ``probe_effects``; a title containing
"poison" makes it fail until a row is put in ``probe_antidote`` (so a replay can succeed);
a title containing "flaky" makes it fail the first ``FLAKY_FAILURES`` tries of that event
(a transient failure: counted per event id in ``TRIES``, in the process, since a failed
try's transaction is rolled back).

Run as a process (the fault tests do): ``python -m tests.support.probe_service``.
With ``KIPINA_PROBE_KILL_AFTER_COMMIT=<case id>`` the process kills itself right after
the transaction holding a message with that key committed, before its offset is committed.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from shared.auth import Operator
from shared.consumer import EventContext, EventRouter, Record
from shared.events import CaseSubmittedV1
from shared.registry import Part
from shared.service import ServiceDefinition, create_app, run
from shared.settings import ServiceSettings

PROBE_TOPIC = "kipina.test.probe.v1"
PROBE = Part("probe", 8099, "Probe")  # not in the registry: a test double, never deployed
PROBE_DLQ = PROBE.dead_letter_topic


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KIPINA_PROBE_", extra="ignore")
    port: int = PROBE.port


router = EventRouter()
api = APIRouter()
FLAKY_FAILURES = 2
TRIES: Counter[uuid.UUID] = Counter()  # tries of each event by the handler, in this process


class Note(BaseModel):
    text: str


@api.post("/probe/notes")
async def take_note(note: Note, _: Operator) -> dict[str, int]:
    """An endpoint that reads its body, for tests of request limits."""
    return {"length": len(note.text)}


@router.on(CaseSubmittedV1)
async def on_case_submitted(ctx: EventContext, payload: CaseSubmittedV1) -> None:
    TRIES[ctx.event.id] += 1
    if "flaky" in payload.case.title and TRIES[ctx.event.id] <= FLAKY_FAILURES:
        raise ConnectionError(f"probe's dependency away for {payload.case.title!r} (try {TRIES[ctx.event.id]})")
    if "poison" in payload.case.title and not await ctx.conn.fetchval("SELECT count(*) FROM probe_antidote"):
        raise RuntimeError(f"probe cannot digest {payload.case.title!r}")
    await ctx.conn.execute(
        "INSERT INTO probe_effects (case_id, event_id, title) VALUES ($1, $2, $3)",
        payload.case.case_id,
        ctx.event.id,
        payload.case.title,
    )


def create() -> FastAPI:
    settings = ProbeSettings()
    app = create_app(
        ServiceDefinition(
            part=PROBE,
            description="Test-only service for the reliability protocol.",
            settings=settings,
            migrations=Path(__file__).parent / "probe_migrations",
            event_router=router,
            subscribe_to=[PROBE_TOPIC],
            api_routers=[api],
        )
    )
    consumer = app.state.runtime.consumer
    doomed_key = os.environ.get("KIPINA_PROBE_KILL_AFTER_COMMIT", "").encode()
    if doomed_key and consumer is not None:

        def die_after_commit(records: Sequence[Record]) -> None:
            # The transaction holding the record has committed here; its offset has not.
            if any(record.key == doomed_key for record in records):
                os._exit(137)

        consumer.on_committed = die_after_commit
    return app


if __name__ == "__main__":
    run("tests.support.probe_service:create", ProbeSettings())

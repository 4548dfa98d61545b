"""Review and awards events keep each case's status and timeline current (the use case is workflow.track_event)."""

from __future__ import annotations

from typing import get_args

from services.intake import workflow
from services.intake.domain import TrackedEvent
from services.intake.repository import IntakeRepository
from shared.consumer import EventContext, EventRouter

router = EventRouter()


@router.on(*get_args(TrackedEvent))
async def track_case_progress(ctx: EventContext, payload: TrackedEvent) -> None:
    await workflow.track_event(
        uow=ctx.unit_of_work(IntakeRepository), payload=payload, at=ctx.event.time, event_id=ctx.event.id
    )

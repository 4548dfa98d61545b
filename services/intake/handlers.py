"""Review and awards events keep each case's status and timeline current; the work is workflow.track_event."""

from __future__ import annotations

from typing import get_args

from services.intake import workflow
from shared.consumer import EventContext, EventRouter
from shared.events import (
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    ChangesRequestedV1,
    EvaluationOpenedV1,
    IterationEscalatedV1,
    IterationOpenedV1,
    ResultsPublishedV1,
    StageAdvancedV1,
)

router = EventRouter()

# Every event intake tracks is applied the same way; the differences live in domain.apply_event.
TrackedEvent = (
    IterationOpenedV1
    | ChangesRequestedV1
    | StageAdvancedV1
    | CaseRejectedV1
    | CaseNominatedV1
    | IterationEscalatedV1
    | EvaluationOpenedV1
    | AwardDecidedV1
    | ResultsPublishedV1
)


@router.on(*get_args(TrackedEvent))
async def track_case_progress(ctx: EventContext, payload: TrackedEvent) -> None:
    await workflow.track_event(
        conn=ctx.conn, payload=payload, case_id=payload.case_id, at=ctx.event.time, event_id=ctx.event.id
    )

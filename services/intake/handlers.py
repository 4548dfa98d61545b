"""Review and awards events keep each case's status and timeline current. One thin handler per type."""

from __future__ import annotations

import uuid

from services.intake import domain, repository
from shared.consumer import EventContext, EventRouter
from shared.events import (
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    ChangesRequestedV1,
    EvaluationOpenedV1,
    EventPayload,
    IterationEscalatedV1,
    IterationOpenedV1,
    ResultsPublishedV1,
    StageAdvancedV1,
)
from shared.logging import get_logger

log = get_logger(__name__)
router = EventRouter()


async def _track(ctx: EventContext, payload: EventPayload, case_id: uuid.UUID) -> None:
    """Apply one event to the case's progress and timeline, in the consumer's transaction."""
    case = await repository.get_case(ctx.conn, case_id=case_id, for_update=True)
    if case is None:
        # Another intake's case, or one from before a reset: nothing to track, and not a failure.
        log.warning("event for a case intake does not know; ignored", event_type=payload.event_type)
        return
    transition = domain.apply_event(case.progress, payload)
    if transition.applied:
        if transition.progress != case.progress:
            await repository.save_progress(ctx.conn, case_id=case_id, progress=transition.progress)
    else:
        log.info(
            "late event; recorded in the timeline without changing the status",
            event_type=payload.event_type,
            status=case.progress.status.value,
        )
    await repository.add_timeline_entry(
        ctx.conn, case_id=case_id, entry=transition.entry, at=ctx.event.time, event_id=ctx.event.id
    )


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


@router.on(
    IterationOpenedV1,
    ChangesRequestedV1,
    StageAdvancedV1,
    CaseRejectedV1,
    CaseNominatedV1,
    IterationEscalatedV1,
    EvaluationOpenedV1,
    AwardDecidedV1,
    ResultsPublishedV1,
)
async def track_case_progress(ctx: EventContext, payload: TrackedEvent) -> None:
    await _track(ctx, payload, payload.case_id)

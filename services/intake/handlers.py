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


@router.on(IterationOpenedV1)
async def iteration_opened(ctx: EventContext, payload: IterationOpenedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(ChangesRequestedV1)
async def changes_requested(ctx: EventContext, payload: ChangesRequestedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(StageAdvancedV1)
async def stage_advanced(ctx: EventContext, payload: StageAdvancedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(CaseRejectedV1)
async def case_rejected(ctx: EventContext, payload: CaseRejectedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(CaseNominatedV1)
async def case_nominated(ctx: EventContext, payload: CaseNominatedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(IterationEscalatedV1)
async def iteration_escalated(ctx: EventContext, payload: IterationEscalatedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(EvaluationOpenedV1)
async def evaluation_opened(ctx: EventContext, payload: EvaluationOpenedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(AwardDecidedV1)
async def award_decided(ctx: EventContext, payload: AwardDecidedV1) -> None:
    await _track(ctx, payload, payload.case_id)


@router.on(ResultsPublishedV1)
async def results_published(ctx: EventContext, payload: ResultsPublishedV1) -> None:
    await _track(ctx, payload, payload.case_id)

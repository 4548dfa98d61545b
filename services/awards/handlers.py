"""Awards' Kafka handlers: a call's announcement teaches awards the call; a nomination opens an evaluation;
a withdrawal closes it; the case's content and review history are kept for its jurors (use cases in workflow.py)."""

from __future__ import annotations

from services.awards import workflow
from services.awards.domain import ReviewRoundEvent
from services.awards.repository import AwardsRepository
from services.awards.settings import AwardsSettings
from shared.consumer import EventContext, EventRouter
from shared.events import (
    CallAnnouncedV1,
    CaseNominatedV1,
    CaseRevisedV1,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    ChangesRequestedV1,
    IterationOpenedV1,
    StageAdvancedV1,
)


def build_event_router(settings: AwardsSettings) -> EventRouter:
    """The handlers, bound to the service's settings (the jurors' scoring period)."""
    router = EventRouter()

    @router.on(CallAnnouncedV1)
    async def learn_call(ctx: EventContext, payload: CallAnnouncedV1) -> None:
        await workflow.learn_call(uow=ctx.unit_of_work(AwardsRepository), announcement=payload)

    @router.on(CaseNominatedV1)
    async def open_evaluation(ctx: EventContext, payload: CaseNominatedV1) -> None:
        # The nomination ends the last review iteration: the jurors read it in the case's history.
        await workflow.record_review_round(uow=ctx.unit_of_work(AwardsRepository), event=payload, at=ctx.event.time)
        await workflow.open_evaluation(
            uow=ctx.unit_of_work(AwardsRepository), nomination=payload, scoring_period=settings.scoring_period
        )

    @router.on(CaseWithdrawnV1)
    async def withdraw_evaluation(ctx: EventContext, payload: CaseWithdrawnV1) -> None:
        await workflow.withdraw_evaluation(uow=ctx.unit_of_work(AwardsRepository), withdrawal=payload)

    @router.on(CaseSubmittedV1)
    async def keep_submitted_content(ctx: EventContext, payload: CaseSubmittedV1) -> None:
        await workflow.record_case_content(uow=ctx.unit_of_work(AwardsRepository), case=payload.case, at=ctx.event.time)

    @router.on(CaseRevisedV1)
    async def keep_revised_content(ctx: EventContext, payload: CaseRevisedV1) -> None:
        await workflow.record_case_content(
            uow=ctx.unit_of_work(AwardsRepository),
            case=payload.case,
            at=ctx.event.time,
            change_note=payload.change_note,
            addressed_points=payload.addressed_points,
        )

    @router.on(IterationOpenedV1, ChangesRequestedV1, StageAdvancedV1)
    async def keep_review_round(ctx: EventContext, payload: ReviewRoundEvent) -> None:
        await workflow.record_review_round(uow=ctx.unit_of_work(AwardsRepository), event=payload, at=ctx.event.time)

    return router

"""Review's Kafka handlers: intake's call and case events, each handed to its use case in workflow.py."""

from __future__ import annotations

from services.review import workflow
from services.review.repository import ReviewRepository
from services.review.settings import ReviewSettings
from shared.consumer import EventContext, EventRouter
from shared.events import CallAnnouncedV1, CaseRevisedV1, CaseSubmittedV1, CaseWithdrawnV1


def build_event_router(settings: ReviewSettings) -> EventRouter:
    """The handlers, bound to the service's settings (the iteration timebox)."""
    router = EventRouter()

    @router.on(CallAnnouncedV1)
    async def call_announced(ctx: EventContext, payload: CallAnnouncedV1) -> None:
        await workflow.learn_call(uow=ctx.unit_of_work(ReviewRepository), announcement=payload)

    @router.on(CaseSubmittedV1)
    async def case_submitted(ctx: EventContext, payload: CaseSubmittedV1) -> None:
        await workflow.case_submitted(
            uow=ctx.unit_of_work(ReviewRepository), case=payload.case, timebox=settings.timebox
        )

    @router.on(CaseRevisedV1)
    async def case_revised(ctx: EventContext, payload: CaseRevisedV1) -> None:
        await workflow.case_revised(
            uow=ctx.unit_of_work(ReviewRepository),
            case=payload.case,
            timebox=settings.timebox,
            change_note=payload.change_note,
            addressed_points=payload.addressed_points,
        )

    @router.on(CaseWithdrawnV1)
    async def case_withdrawn(ctx: EventContext, payload: CaseWithdrawnV1) -> None:
        await workflow.case_withdrawn(
            uow=ctx.unit_of_work(ReviewRepository), case_id=payload.case_id, reason=payload.reason
        )

    return router

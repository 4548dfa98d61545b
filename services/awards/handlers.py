"""Awards' Kafka handlers: a call's announcement teaches awards the call; a nomination opens an evaluation;
a withdrawal closes it (use cases in workflow.py)."""

from __future__ import annotations

from services.awards import workflow
from services.awards.repository import AwardsRepository
from shared.consumer import EventContext, EventRouter
from shared.events import CallAnnouncedV1, CaseNominatedV1, CaseWithdrawnV1

router = EventRouter()


@router.on(CallAnnouncedV1)
async def learn_call(ctx: EventContext, payload: CallAnnouncedV1) -> None:
    await workflow.learn_call(uow=ctx.unit_of_work(AwardsRepository), announcement=payload)


@router.on(CaseNominatedV1)
async def open_evaluation(ctx: EventContext, payload: CaseNominatedV1) -> None:
    await workflow.open_evaluation(uow=ctx.unit_of_work(AwardsRepository), nomination=payload)


@router.on(CaseWithdrawnV1)
async def withdraw_evaluation(ctx: EventContext, payload: CaseWithdrawnV1) -> None:
    await workflow.withdraw_evaluation(uow=ctx.unit_of_work(AwardsRepository), withdrawal=payload)

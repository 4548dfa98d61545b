"""Awards' Kafka handlers: a nomination opens an evaluation; a withdrawal closes it."""

from __future__ import annotations

from services.awards import domain, repository
from services.awards.domain import DEFAULT_CRITERIA, EvaluationAction, EvaluationStatus, InvalidTransition
from shared.consumer import EventContext, EventRouter
from shared.events import CaseNominatedV1, CaseWithdrawnV1, EvaluationOpenedV1
from shared.logging import get_logger

log = get_logger(__name__)

router = EventRouter()


@router.on(CaseNominatedV1)
async def open_evaluation(ctx: EventContext, payload: CaseNominatedV1) -> None:
    """Create the evaluation with the call's criteria, assign k non-conflicted jurors, announce it."""
    conn = ctx.conn
    await repository.lock_call(conn, payload.call_id)
    criteria = await repository.get_criteria(conn, payload.call_id) or DEFAULT_CRITERIA
    # The withdrawal travels on another topic and may overtake the nomination.
    if await repository.was_withdrawn(conn, payload.case_id):
        await repository.insert_evaluation(
            conn, nomination=payload, criteria=criteria, status=EvaluationStatus.WITHDRAWN
        )
        log.info("nominated case was already withdrawn; evaluation not opened")
        return
    if not await repository.insert_evaluation(
        conn, nomination=payload, criteria=criteria, status=EvaluationStatus.OPEN
    ):
        log.info("case already has an evaluation; nomination ignored")
        return
    evaluation = await repository.get_evaluation(conn, payload.case_id)
    assert evaluation is not None
    juror_ids = await repository.top_up_jurors(
        conn, evaluation=evaluation, jury=await repository.get_jury(conn, payload.call_id)
    )
    await ctx.emit(
        EvaluationOpenedV1(
            case_id=payload.case_id, call_id=payload.call_id, criteria=list(criteria), juror_ids=juror_ids
        )
    )
    log.info("evaluation opened", juror_ids=juror_ids, criteria=[c.key for c in criteria])


@router.on(CaseWithdrawnV1)
async def withdraw_evaluation(ctx: EventContext, payload: CaseWithdrawnV1) -> None:
    evaluation = await repository.get_evaluation(ctx.conn, payload.case_id, for_update=True)
    if evaluation is None:
        await repository.remember_withdrawal(ctx.conn, case_id=payload.case_id, call_id=payload.call_id)
        log.info("case withdrawn before any evaluation; remembered")
        return
    try:
        new_status = domain.transition(evaluation.status, EvaluationAction.WITHDRAW)
    except InvalidTransition as exc:
        # Nothing to undo (already withdrawn): a domain no-op, not a failure worth dead-lettering.
        log.info("withdrawal ignored", reason=str(exc))
        return
    if evaluation.published_at is not None:
        log.warning("case withdrawn after its result was published; marked withdrawn anyway")
    await repository.mark_withdrawn(ctx.conn, case_id=payload.case_id, status=new_status)
    log.info("evaluation withdrawn", previous_status=evaluation.status.value)

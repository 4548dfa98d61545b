"""Awards use cases: each command and query of the API and the Kafka handlers, orchestrating repository, domain
and outbox.

Convention: an HTTP use case takes the pool and opens its own transaction (and log context); an event use case
takes the connection of the transaction the consumer already opened (inbox → change → outbox). Refusals are the
``shared.errors``' ``NotFound`` / ``Conflict`` / ``Invalid``; shared.service maps them to HTTP in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.awards import domain, repository
from services.awards.domain import (
    DEFAULT_CRITERIA,
    Evaluation,
    EvaluationAction,
    EvaluationStatus,
    InvalidTransition,
    Jury,
    LeaderboardRow,
    Scorecard,
    ScoreEntry,
)
from services.awards.repository import Assignment
from shared import outbox
from shared.db import Connection
from shared.errors import Conflict, Invalid, NotFound
from shared.events import (
    AwardDecidedV1,
    CaseNominatedV1,
    CaseWithdrawnV1,
    Criterion,
    EvaluationOpenedV1,
    ResultsPublishedV1,
)
from shared.logging import bind_event_context, get_logger
from shared.vocabulary import AwardOutcome, Category

SERVICE = "awards"

log = get_logger(__name__)


# --------------------------------------------------------------------------- shared steps


async def top_up_jurors(conn: Connection, *, evaluation: Evaluation, jury: Jury | None) -> list[str]:
    """Assign jurors until the evaluation has the panel's k, never one with a conflict; returns those added.

    The caller holds the call lock exclusively, so loads cannot change underneath.
    """
    jury = jury or Jury(jurors=())
    assigned = await repository.assigned_jurors(conn, evaluation.case_id)
    needed = jury.jurors_per_case - len(assigned)
    if needed <= 0:
        return []
    chosen = domain.choose_jurors(
        panel=jury.jurors,
        case_id=evaluation.case_id,
        organisation_id=evaluation.organisation_id,
        needed=needed,
        already_assigned=assigned,
        excluded=await repository.recused_jurors(conn, evaluation.case_id),
        loads=await repository.juror_loads(conn, evaluation.call_id),
    )
    await repository.add_assignments(conn, case_id=evaluation.case_id, juror_ids=chosen)
    if len(chosen) < needed:
        log.warning(
            "too few eligible jurors for the case",
            case_id=str(evaluation.case_id),
            call_id=str(evaluation.call_id),
            wanted=needed,
            assigned=len(chosen),
            panel_size=len(jury.jurors),
        )
    return chosen


async def _locked_evaluation(
    conn: Connection, case_id: uuid.UUID, *, shared: bool, juror_id: str | None = None
) -> Evaluation:
    """The evaluation under its call's lock and a row lock; with ``juror_id``, only if that juror is assigned.

    The call id is needed for the call lock, so the row is read once before locking and again after.
    """
    evaluation = await repository.get_evaluation(conn, case_id)
    if evaluation is None or (
        juror_id is not None and not await repository.is_assigned(conn, case_id=case_id, juror_id=juror_id)
    ):
        raise NotFound(f"no evaluation of case {case_id}")
    await repository.lock_call(conn, evaluation.call_id, shared=shared)
    locked = await repository.get_evaluation(conn, case_id, for_update=True)
    assert locked is not None
    # Re-checked under the lock: a recusal or a new panel may have unassigned the juror meanwhile.
    if juror_id is not None and not await repository.is_assigned(conn, case_id=case_id, juror_id=juror_id):
        raise NotFound(f"no evaluation of case {case_id}")
    return locked


# --------------------------------------------------------------------------- calls: criteria and jury


@dataclass(frozen=True)
class CallCriteria:
    criteria: Sequence[Criterion]
    is_default: bool


async def call_criteria(pool: asyncpg.Pool, *, call_id: uuid.UUID) -> CallCriteria:
    async with pool.acquire() as conn:
        criteria = await repository.get_criteria(conn, call_id)
    return CallCriteria(criteria=criteria or DEFAULT_CRITERIA, is_default=criteria is None)


async def set_criteria(
    pool: asyncpg.Pool, *, call_id: uuid.UUID, criteria: Sequence[Criterion], operator_id: str, correlation_id: str
) -> CallCriteria:
    """Set the call's criteria; refused once any case of the call has been scored."""
    with bind_event_context(case_id=None, correlation_id=correlation_id, call_id=str(call_id)):
        async with pool.acquire() as conn, conn.transaction():
            await repository.lock_call(conn, call_id)
            if await repository.call_has_scores(conn, call_id):
                raise Conflict(f"call {call_id} already has scores; its criteria can no longer change")
            await repository.set_criteria(conn, call_id=call_id, criteria=criteria, updated_by=operator_id)
            updated = await repository.replace_open_criteria(conn, call_id=call_id, criteria=criteria)
        log.info("criteria set", criteria=[c.key for c in criteria], open_evaluations_updated=updated)
    return CallCriteria(criteria=criteria, is_default=False)


@dataclass(frozen=True)
class JuryState:
    jury: Jury
    loads: dict[str, int]
    assignments_added: int = 0


async def get_jury(pool: asyncpg.Pool, *, call_id: uuid.UUID) -> JuryState:
    async with pool.acquire() as conn:
        jury = await repository.get_jury(conn, call_id)
        if jury is None:
            raise NotFound(f"no jury has been set for call {call_id}")
        return JuryState(jury=jury, loads=await repository.juror_loads(conn, call_id))


async def set_jury(
    pool: asyncpg.Pool, *, call_id: uuid.UUID, jury: Jury, operator_id: str, correlation_id: str
) -> JuryState:
    """Store the call's panel, drop assignments the panel now declares conflicted, and fill open evaluations."""
    added = 0
    with bind_event_context(case_id=None, correlation_id=correlation_id, call_id=str(call_id)):
        async with pool.acquire() as conn, conn.transaction():
            await repository.lock_call(conn, call_id)
            await repository.set_jury(conn, call_id=call_id, jury=jury, updated_by=operator_id)
            for evaluation in await repository.open_evaluations_of_call(conn, call_id):
                conflicted = domain.conflicted_jurors(
                    jury.jurors,
                    case_id=evaluation.case_id,
                    organisation_id=evaluation.organisation_id,
                    assigned=await repository.assigned_jurors(conn, evaluation.case_id),
                )
                for juror_id in conflicted:
                    await repository.remove_assignment(conn, case_id=evaluation.case_id, juror_id=juror_id)
                    log.info("conflicted juror unassigned", case_id=str(evaluation.case_id), juror_id=juror_id)
                added += len(await top_up_jurors(conn, evaluation=evaluation, jury=jury))
            loads = await repository.juror_loads(conn, call_id)
        log.info("jury set", jurors=len(jury.jurors), jurors_per_case=jury.jurors_per_case, assignments_added=added)
    return JuryState(jury=jury, loads=loads, assignments_added=added)


async def leaderboard(
    pool: asyncpg.Pool, *, call_id: uuid.UUID, category: Category | None, normalise: bool
) -> list[LeaderboardRow]:
    """Evaluated cases ranked per category, optionally of one category only."""
    async with pool.acquire() as conn:
        cases = await repository.scored_cases(conn, call_id)
    return [
        r for r in domain.leaderboard(cases, normalise=normalise) if category is None or r.category == category.value
    ]


async def publish_results(pool: asyncpg.Pool, *, call_id: uuid.UUID, correlation_id: str) -> list[uuid.UUID]:
    """Announce every decided, not yet published evaluation of the call (one ResultsPublishedV1 each)."""
    with bind_event_context(case_id=None, correlation_id=correlation_id, call_id=str(call_id)):
        async with pool.acquire() as conn, conn.transaction():
            decided = await repository.decided_unpublished(conn, call_id)
            for evaluation in decided:
                assert evaluation.outcome is not None
                await outbox.emit(
                    conn,
                    ResultsPublishedV1(
                        case_id=evaluation.case_id, call_id=call_id, outcome=AwardOutcome(evaluation.outcome)
                    ),
                    service=SERVICE,
                    subject=str(evaluation.case_id),
                    correlation_id=correlation_id,
                )
            published = [e.case_id for e in decided]
            await repository.mark_published(conn, published)
        log.info("results published", cases=len(published))
    return published


# --------------------------------------------------------------------------- evaluations: operators


async def list_evaluations(
    pool: asyncpg.Pool, *, call_id: uuid.UUID | None, status: EvaluationStatus | None, limit: int, offset: int
) -> tuple[list[Evaluation], int]:
    async with pool.acquire() as conn:
        return await repository.list_evaluations(conn, call_id=call_id, status=status, limit=limit, offset=offset)


@dataclass(frozen=True)
class EvaluationDetail:
    evaluation: Evaluation
    assigned: list[str]
    scorecards: list[Scorecard]
    recused: set[str]


async def evaluation_detail(pool: asyncpg.Pool, *, case_id: uuid.UUID) -> EvaluationDetail:
    async with pool.acquire() as conn:
        evaluation = await repository.get_evaluation(conn, case_id)
        if evaluation is None:
            raise NotFound(f"no evaluation of case {case_id}")
        return EvaluationDetail(
            evaluation=evaluation,
            assigned=await repository.assigned_jurors(conn, case_id),
            scorecards=await repository.scorecards(conn, case_id),
            recused=await repository.recused_jurors(conn, case_id),
        )


async def decide(
    pool: asyncpg.Pool,
    *,
    case_id: uuid.UUID,
    outcome: AwardOutcome,
    feedback: str,
    operator_id: str,
    correlation_id: str,
) -> Evaluation:
    """Finalise the outcome once every assigned juror has scored; emits AwardDecidedV1. Returns the decided record."""
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            evaluation = await _locked_evaluation(conn, case_id, shared=True)
            new_status = domain.transition(evaluation.status, EvaluationAction.DECIDE)
            cards = await repository.scorecards(conn, case_id)
            domain.ensure_decidable(await repository.assigned_jurors(conn, case_id), [c.juror_id for c in cards])
            weighted, rank = domain.standing(await repository.scored_cases(conn, evaluation.call_id), case_id)
            decided = await repository.record_decision(
                conn,
                case_id=case_id,
                status=new_status,
                outcome=outcome.value,
                feedback=feedback,
                weighted_score=weighted,
                rank_in_category=rank,
                decided_by=operator_id,
            )
            await outbox.emit(
                conn,
                AwardDecidedV1(
                    case_id=case_id,
                    call_id=evaluation.call_id,
                    outcome=outcome,
                    weighted_score=weighted,
                    rank_in_category=rank,
                    feedback=feedback,
                ),
                service=SERVICE,
                subject=str(case_id),
                correlation_id=correlation_id,
            )
        log.info("award decided", outcome=outcome.value, weighted_score=weighted, rank_in_category=rank)
    return decided


# --------------------------------------------------------------------------- jurors


async def juror_assignments(
    pool: asyncpg.Pool, *, juror_id: str, status: EvaluationStatus | None, limit: int, offset: int
) -> tuple[list[Assignment], int]:
    async with pool.acquire() as conn:
        return await repository.juror_assignments(conn, juror_id=juror_id, status=status, limit=limit, offset=offset)


async def submit_scores(
    pool: asyncpg.Pool,
    *,
    case_id: uuid.UUID,
    juror_id: str,
    scores: Sequence[ScoreEntry],
    overall_comment: str,
    correlation_id: str,
) -> tuple[Evaluation, Scorecard]:
    """Score every criterion once; a resubmission replaces the juror's earlier scores."""
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            # Shared call lock: criteria cannot change while scores against them are being written.
            evaluation = await _locked_evaluation(conn, case_id, shared=True, juror_id=juror_id)
            domain.transition(evaluation.status, EvaluationAction.SCORE)
            problems = domain.score_problems(evaluation.criteria, scores)
            if problems:
                raise Invalid.of(problems)
            card = await repository.save_scorecard(
                conn, case_id=case_id, juror_id=juror_id, scores=scores, overall_comment=overall_comment
            )
        log.info("scores submitted", juror_id=juror_id)
    return evaluation, card


async def declare_conflict(
    pool: asyncpg.Pool, *, case_id: uuid.UUID, juror_id: str, reason: str, correlation_id: str
) -> list[str]:
    """The juror recuses themselves: unassigned (scores dropped), and replacements assigned if the panel allows.

    Returns the replacements.
    """
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            evaluation = await _locked_evaluation(conn, case_id, shared=False, juror_id=juror_id)
            domain.transition(evaluation.status, EvaluationAction.DECLARE_CONFLICT)
            await repository.remove_assignment(conn, case_id=case_id, juror_id=juror_id)
            await repository.add_recusal(conn, case_id=case_id, juror_id=juror_id, reason=reason)
            jury = await repository.get_jury(conn, evaluation.call_id)
            replacements = await top_up_jurors(conn, evaluation=evaluation, jury=jury)
        log.info("juror declared a conflict", juror_id=juror_id, replacements=replacements)
    return replacements


# --------------------------------------------------------------------------- events (in the consumer's transaction)


async def open_evaluation(conn: Connection, *, nomination: CaseNominatedV1) -> EvaluationOpenedV1 | None:
    """Create the evaluation with the call's criteria and assign k non-conflicted jurors.

    Returns the event announcing it, or None when there is nothing to announce.
    """
    await repository.lock_call(conn, nomination.call_id)
    criteria = await repository.get_criteria(conn, nomination.call_id) or DEFAULT_CRITERIA
    # The withdrawal travels on another topic and may overtake the nomination.
    if await repository.was_withdrawn(conn, nomination.case_id):
        await repository.insert_evaluation(
            conn, nomination=nomination, criteria=criteria, status=EvaluationStatus.WITHDRAWN
        )
        log.info("nominated case was already withdrawn; evaluation not opened")
        return None
    if not await repository.insert_evaluation(
        conn, nomination=nomination, criteria=criteria, status=EvaluationStatus.OPEN
    ):
        log.info("case already has an evaluation; nomination ignored")
        return None
    evaluation = await repository.get_evaluation(conn, nomination.case_id)
    assert evaluation is not None
    juror_ids = await top_up_jurors(
        conn, evaluation=evaluation, jury=await repository.get_jury(conn, nomination.call_id)
    )
    log.info("evaluation opened", juror_ids=juror_ids, criteria=[c.key for c in criteria])
    return EvaluationOpenedV1(
        case_id=nomination.case_id, call_id=nomination.call_id, criteria=list(criteria), juror_ids=juror_ids
    )


async def withdraw_evaluation(conn: Connection, *, withdrawal: CaseWithdrawnV1) -> None:
    """Close the evaluation, or remember the withdrawal if the nomination has not arrived yet."""
    evaluation = await repository.get_evaluation(conn, withdrawal.case_id, for_update=True)
    if evaluation is None:
        await repository.remember_withdrawal(conn, case_id=withdrawal.case_id, call_id=withdrawal.call_id)
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
    await repository.mark_withdrawn(conn, case_id=withdrawal.case_id, status=new_status)
    log.info("evaluation withdrawn", previous_status=evaluation.status.value)

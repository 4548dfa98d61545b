"""Awards HTTP routes: operators set criteria and juries, watch the leaderboard and decide; jurors score."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query, status

from services.awards import domain, repository
from services.awards.domain import (
    DEFAULT_CRITERIA,
    Evaluation,
    EvaluationAction,
    EvaluationStatus,
    InvalidTransition,
    JurorProfile,
    Jury,
    Problem,
    ScoreEntry,
)
from services.awards.repository import Scorecard
from services.awards.schemas import (
    AssignmentView,
    CaseView,
    ConflictBody,
    ConflictView,
    CriteriaBody,
    CriteriaView,
    CriterionView,
    DecisionBody,
    DecisionView,
    EvaluationSummary,
    EvaluationView,
    JurorAssignmentView,
    JurorView,
    JuryBody,
    JuryView,
    LeaderboardRowView,
    LeaderboardView,
    PublishView,
    ScorecardBody,
    ScorecardView,
    ScoreView,
)
from shared import outbox
from shared.auth import Juror, Operator
from shared.events import AwardDecidedV1, Criterion, ResultsPublishedV1
from shared.logging import bind_event_context, get_logger
from shared.pagination import Limit, Offset, Page
from shared.service import CorrelationId, Db
from shared.vocabulary import AwardOutcome, Category

SERVICE = "awards"

log = get_logger(__name__)

router = APIRouter(tags=["awards"])


# --------------------------------------------------------------------------- views


def _criteria_view(criteria: Sequence[Criterion]) -> list[CriterionView]:
    return [CriterionView(**c.model_dump()) for c in criteria]


def _case_view(evaluation: Evaluation) -> CaseView:
    return CaseView(
        case_id=evaluation.case_id,
        call_id=evaluation.call_id,
        call_title=evaluation.call_title,
        title=evaluation.title,
        summary=evaluation.summary,
        category=evaluation.category,
        language=evaluation.language,
        organisation_id=evaluation.organisation_id,
        organisation_name=evaluation.organisation_name,
    )


def _scorecard_view(card: Scorecard, criteria: Sequence[Criterion]) -> ScorecardView:
    return ScorecardView(
        juror_id=card.juror_id,
        scores=[ScoreView(criterion=s.criterion, score=s.score, comment=s.comment) for s in card.scores],
        overall_comment=card.overall_comment,
        submitted_at=card.submitted_at,
        weighted_score=round(domain.weighted_score(criteria, card.by_criterion()), 4),
    )


def _jury_view(call_id: uuid.UUID, jury: Jury, loads: dict[str, int], added: int = 0) -> JuryView:
    return JuryView(
        call_id=call_id,
        jurors=[
            JurorView(
                user_id=j.user_id,
                name=j.name,
                email=j.email,
                organisation_id=j.organisation_id,
                conflicts=sorted(j.conflicts),
                assigned_cases=loads.get(j.user_id, 0),
            )
            for j in jury.jurors
        ],
        jurors_per_case=jury.jurors_per_case,
        assignments_added=added,
    )


def _not_found(case_id: uuid.UUID) -> NoReturn:
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no evaluation of case {case_id}")


def _unprocessable(problems: Sequence[Problem]) -> NoReturn:
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail={
            "message": "; ".join(f"{p.field}: {p.problem}" for p in problems[:5]),
            "problems": [{"field": p.field, "problem": p.problem} for p in problems],
        },
    )


# --------------------------------------------------------------------------- calls: criteria and jury


@router.put("/calls/{call_id}/criteria", response_model=CriteriaView)
async def set_criteria(
    call_id: uuid.UUID, body: CriteriaBody, operator: Operator, pool: Db, correlation_id: CorrelationId
) -> CriteriaView:
    """Set the call's criteria; refused once any case of the call has been scored."""
    criteria = [Criterion(**c.model_dump()) for c in body.criteria]
    with bind_event_context(case_id=None, correlation_id=correlation_id, call_id=str(call_id)):
        async with pool.acquire() as conn, conn.transaction():
            await repository.lock_call(conn, call_id)
            if await repository.call_has_scores(conn, call_id):
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"call {call_id} already has scores; its criteria can no longer change",
                )
            await repository.set_criteria(conn, call_id=call_id, criteria=criteria, updated_by=operator.user_id)
            updated = await repository.replace_open_criteria(conn, call_id=call_id, criteria=criteria)
        log.info("criteria set", criteria=[c.key for c in criteria], open_evaluations_updated=updated)
    return CriteriaView(call_id=call_id, criteria=_criteria_view(criteria), is_default=False)


@router.get("/calls/{call_id}/criteria", response_model=CriteriaView)
async def get_criteria(call_id: uuid.UUID, _: Operator, pool: Db) -> CriteriaView:
    async with pool.acquire() as conn:
        criteria = await repository.get_criteria(conn, call_id)
    return CriteriaView(
        call_id=call_id, criteria=_criteria_view(criteria or DEFAULT_CRITERIA), is_default=criteria is None
    )


@router.put("/calls/{call_id}/jury", response_model=JuryView)
async def set_jury(
    call_id: uuid.UUID, body: JuryBody, operator: Operator, pool: Db, correlation_id: CorrelationId
) -> JuryView:
    """Store the call's panel, drop assignments the panel now declares conflicted, and fill open evaluations."""
    jury = Jury(
        jurors=tuple(
            JurorProfile(
                user_id=j.user_id,
                name=j.name,
                email=str(j.email) if j.email else None,
                organisation_id=j.organisation_id,
                conflicts=frozenset(j.conflicts),
            )
            for j in body.jurors
        ),
        jurors_per_case=body.jurors_per_case,
    )
    panel = {j.user_id: j for j in jury.jurors}
    added = 0
    with bind_event_context(case_id=None, correlation_id=correlation_id, call_id=str(call_id)):
        async with pool.acquire() as conn, conn.transaction():
            await repository.lock_call(conn, call_id)
            await repository.set_jury(conn, call_id=call_id, jury=jury, updated_by=operator.user_id)
            for evaluation in await repository.open_evaluations_of_call(conn, call_id):
                for juror_id in await repository.assigned_jurors(conn, evaluation.case_id):
                    juror = panel.get(juror_id)
                    if juror and domain.has_conflict(
                        juror, case_id=evaluation.case_id, organisation_id=evaluation.organisation_id
                    ):
                        await repository.remove_assignment(conn, case_id=evaluation.case_id, juror_id=juror_id)
                        log.info("conflicted juror unassigned", case_id=str(evaluation.case_id), juror_id=juror_id)
                added += len(await repository.top_up_jurors(conn, evaluation=evaluation, jury=jury))
            loads = await repository.juror_loads(conn, call_id)
        log.info("jury set", jurors=len(jury.jurors), jurors_per_case=jury.jurors_per_case, assignments_added=added)
    return _jury_view(call_id, jury, loads, added)


@router.get("/calls/{call_id}/jury", response_model=JuryView)
async def get_jury(call_id: uuid.UUID, _: Operator, pool: Db) -> JuryView:
    async with pool.acquire() as conn:
        jury = await repository.get_jury(conn, call_id)
        if jury is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no jury has been set for call {call_id}")
        loads = await repository.juror_loads(conn, call_id)
    return _jury_view(call_id, jury, loads)


@router.get("/calls/{call_id}/leaderboard", response_model=LeaderboardView)
async def get_leaderboard(
    call_id: uuid.UUID,
    _: Operator,
    pool: Db,
    category: Category | None = None,
    normalise: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> LeaderboardView:
    """Evaluated cases ranked per category; ``normalise=true`` ranks by per-juror z-scores instead."""
    async with pool.acquire() as conn:
        cases = await repository.scored_cases(conn, call_id)
    rows = [
        r for r in domain.leaderboard(cases, normalise=normalise) if category is None or r.category == category.value
    ]
    return LeaderboardView(
        call_id=call_id,
        normalise=normalise,
        items=[
            LeaderboardRowView(
                case_id=r.case_id,
                title=r.title,
                category=r.category,
                jurors_scored=r.jurors_scored,
                jurors_assigned=r.jurors_assigned,
                weighted_score=round(r.weighted_score, 4),
                normalised_score=round(r.normalised_score, 4),
                rank=r.rank,
            )
            for r in rows[offset : offset + limit]
        ],
        limit=limit,
        offset=offset,
        total=len(rows),
    )


@router.post("/calls/{call_id}/results/publish", response_model=PublishView)
async def publish_results(call_id: uuid.UUID, _: Operator, pool: Db, correlation_id: CorrelationId) -> PublishView:
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
            await repository.mark_published(conn, [e.case_id for e in decided])
        log.info("results published", cases=len(decided))
    return PublishView(call_id=call_id, published=[e.case_id for e in decided])


# --------------------------------------------------------------------------- evaluations: operators


@router.get("/evaluations", response_model=Page[EvaluationSummary])
async def list_evaluations(
    _: Operator,
    pool: Db,
    call_id: uuid.UUID | None = None,
    status_: Annotated[EvaluationStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[EvaluationSummary]:
    async with pool.acquire() as conn:
        evaluations, total = await repository.list_evaluations(
            conn, call_id=call_id, status=status_, limit=limit, offset=offset
        )
    return Page[EvaluationSummary](
        items=[
            EvaluationSummary(
                case=_case_view(e),
                status=e.status,
                opened_at=e.opened_at,
                outcome=AwardOutcome(e.outcome) if e.outcome else None,
                published_at=e.published_at,
            )
            for e in evaluations
        ],
        limit=limit,
        offset=offset,
        total=total,
    )


@router.get("/evaluations/{case_id}", response_model=EvaluationView)
async def get_evaluation(case_id: uuid.UUID, _: Operator, pool: Db) -> EvaluationView:
    """Everything about one evaluation, including every juror's scores and comments."""
    async with pool.acquire() as conn:
        evaluation = await repository.get_evaluation(conn, case_id)
        if evaluation is None:
            _not_found(case_id)
        assigned = await repository.assigned_jurors(conn, case_id)
        cards = await repository.scorecards(conn, case_id)
        recused = await repository.recused_jurors(conn, case_id)
    scored = {c.juror_id for c in cards}
    juror_scores = [domain.weighted_score(evaluation.criteria, c.by_criterion()) for c in cards]
    mean_score = domain.mean(juror_scores)
    decision = None
    if evaluation.outcome is not None and evaluation.decided_at is not None:
        decision = DecisionView(
            outcome=AwardOutcome(evaluation.outcome),
            feedback=evaluation.feedback or "",
            weighted_score=evaluation.weighted_score,
            rank_in_category=evaluation.rank_in_category,
            decided_by=evaluation.decided_by or "",
            decided_at=evaluation.decided_at,
        )
    return EvaluationView(
        case=_case_view(evaluation),
        status=evaluation.status,
        criteria=_criteria_view(evaluation.criteria),
        opened_at=evaluation.opened_at,
        jurors=[JurorAssignmentView(juror_id=j, scored=j in scored) for j in assigned],
        recused_juror_ids=sorted(recused),
        scorecards=[_scorecard_view(c, evaluation.criteria) for c in cards],
        weighted_score=round(mean_score, 4) if mean_score is not None else None,
        decision=decision,
        published_at=evaluation.published_at,
        withdrawn_at=evaluation.withdrawn_at,
    )


@router.post("/evaluations/{case_id}/decision", response_model=DecisionView)
async def decide(
    case_id: uuid.UUID, body: DecisionBody, operator: Operator, pool: Db, correlation_id: CorrelationId
) -> DecisionView:
    """Finalise the outcome once every assigned juror has scored; emits AwardDecidedV1."""
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            evaluation = await repository.get_evaluation(conn, case_id)
            if evaluation is None:
                _not_found(case_id)
            await repository.lock_call(conn, evaluation.call_id, shared=True)
            evaluation = await repository.get_evaluation(conn, case_id, for_update=True)
            assert evaluation is not None
            try:
                new_status = domain.transition(evaluation.status, EvaluationAction.DECIDE)
            except InvalidTransition as exc:
                raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
            assigned = await repository.assigned_jurors(conn, case_id)
            if not assigned:
                raise HTTPException(status.HTTP_409_CONFLICT, "no juror is assigned to this case yet; set the jury")
            cards = await repository.scorecards(conn, case_id)
            missing = domain.missing_jurors(assigned, [c.juror_id for c in cards])
            if missing:
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"not every assigned juror has scored; still missing: {', '.join(missing)}",
                )
            rows = domain.leaderboard(await repository.scored_cases(conn, evaluation.call_id), normalise=False)
            row = next((r for r in rows if r.case_id == case_id), None)
            weighted = round(row.weighted_score, 4) if row else None
            rank = row.rank if row else None
            await repository.record_decision(
                conn,
                case_id=case_id,
                status=new_status,
                outcome=body.outcome.value,
                feedback=body.feedback,
                weighted_score=weighted,
                rank_in_category=rank,
                decided_by=operator.user_id,
            )
            await outbox.emit(
                conn,
                AwardDecidedV1(
                    case_id=case_id,
                    call_id=evaluation.call_id,
                    outcome=body.outcome,
                    weighted_score=weighted,
                    rank_in_category=rank,
                    feedback=body.feedback,
                ),
                service=SERVICE,
                subject=str(case_id),
                correlation_id=correlation_id,
            )
            decided = await repository.get_evaluation(conn, case_id)
        assert decided is not None and decided.decided_at is not None
        log.info("award decided", outcome=body.outcome.value, weighted_score=weighted, rank_in_category=rank)
    return DecisionView(
        outcome=body.outcome,
        feedback=body.feedback,
        weighted_score=weighted,
        rank_in_category=rank,
        decided_by=operator.user_id,
        decided_at=decided.decided_at,
    )


# --------------------------------------------------------------------------- jurors


@router.get("/assignments", response_model=Page[AssignmentView])
async def my_assignments(
    juror: Juror,
    pool: Db,
    status_: Annotated[EvaluationStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AssignmentView]:
    """The evaluations assigned to the calling juror, with the case, the criteria and their scores so far."""
    async with pool.acquire() as conn:
        assignments, total = await repository.juror_assignments(
            conn, juror_id=juror.user_id, status=status_, limit=limit, offset=offset
        )
    return Page[AssignmentView](
        items=[
            AssignmentView(
                case=_case_view(a.evaluation),
                status=a.evaluation.status,
                criteria=_criteria_view(a.evaluation.criteria),
                assigned_at=a.assigned_at,
                my_scores=_scorecard_view(a.scorecard, a.evaluation.criteria) if a.scorecard else None,
            )
            for a in assignments
        ],
        limit=limit,
        offset=offset,
        total=total,
    )


@router.put("/evaluations/{case_id}/scores", response_model=ScorecardView)
async def submit_scores(
    case_id: uuid.UUID, body: ScorecardBody, juror: Juror, pool: Db, correlation_id: CorrelationId
) -> ScorecardView:
    """Score every criterion once; a resubmission replaces the juror's earlier scores."""
    entries = [ScoreEntry(criterion=s.criterion, score=s.score, comment=s.comment) for s in body.scores]
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            evaluation = await repository.get_evaluation(conn, case_id)
            if evaluation is None or not await repository.is_assigned(conn, case_id=case_id, juror_id=juror.user_id):
                _not_found(case_id)
            # Shared call lock: criteria cannot change while scores against them are being written.
            await repository.lock_call(conn, evaluation.call_id, shared=True)
            evaluation = await repository.get_evaluation(conn, case_id, for_update=True)
            assert evaluation is not None
            if not await repository.is_assigned(conn, case_id=case_id, juror_id=juror.user_id):
                _not_found(case_id)
            try:
                domain.transition(evaluation.status, EvaluationAction.SCORE)
            except InvalidTransition as exc:
                raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
            problems = domain.score_problems(evaluation.criteria, entries)
            if problems:
                _unprocessable(problems)
            await repository.save_scorecard(
                conn, case_id=case_id, juror_id=juror.user_id, scores=entries, overall_comment=body.overall_comment
            )
            card = await repository.scorecard(conn, case_id=case_id, juror_id=juror.user_id)
        assert card is not None
        log.info("scores submitted", juror_id=juror.user_id)
    return _scorecard_view(card, evaluation.criteria)


@router.post("/evaluations/{case_id}/conflict", response_model=ConflictView)
async def declare_conflict(
    case_id: uuid.UUID, body: ConflictBody, juror: Juror, pool: Db, correlation_id: CorrelationId
) -> ConflictView:
    """The juror recuses themselves: unassigned (scores dropped), and a replacement assigned if the panel allows."""
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            evaluation = await repository.get_evaluation(conn, case_id)
            if evaluation is None or not await repository.is_assigned(conn, case_id=case_id, juror_id=juror.user_id):
                _not_found(case_id)
            await repository.lock_call(conn, evaluation.call_id)
            evaluation = await repository.get_evaluation(conn, case_id, for_update=True)
            assert evaluation is not None
            try:
                domain.transition(evaluation.status, EvaluationAction.DECLARE_CONFLICT)
            except InvalidTransition as exc:
                raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
            if not await repository.remove_assignment(conn, case_id=case_id, juror_id=juror.user_id):
                _not_found(case_id)
            await repository.add_recusal(conn, case_id=case_id, juror_id=juror.user_id, reason=body.reason)
            jury = await repository.get_jury(conn, evaluation.call_id)
            replacements = await repository.top_up_jurors(conn, evaluation=evaluation, jury=jury)
        log.info("juror declared a conflict", juror_id=juror.user_id, replacements=replacements)
    return ConflictView(case_id=case_id, juror_id=juror.user_id, recused=True, replacement_assigned=bool(replacements))

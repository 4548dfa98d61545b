"""Awards HTTP routes: operators set criteria and juries, watch the leaderboard and decide; jurors score.

Each route parses, hands plain values to one use case in workflow.py with a unit of work, and converts the
result; refusals (``shared.errors``) become HTTP errors in shared/http_errors.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request

from services.awards import domain, workflow
from services.awards.domain import (
    CaseContent,
    Dossier,
    Evaluation,
    EvaluationStatus,
    Scorecard,
    ScoreEntry,
)
from services.awards.repository import AwardsRepository
from services.awards.schemas import (
    AssignmentView,
    CaseContentView,
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
    PersonView,
    PublishView,
    ReviewFeedbackView,
    ReviewRoundView,
    RevisionNoteView,
    ScorecardBody,
    ScorecardView,
    ScoreView,
)
from services.awards.settings import AwardsSettings
from shared.auth import Juror, Operator
from shared.events import Criterion, FeedbackItem
from shared.feedback import PointState
from shared.http import get_runtime, unit_of_work
from shared.pagination import Limit, Offset, Page
from shared.uow import UnitOfWork
from shared.vocabulary import AwardOutcome, Category

router = APIRouter(tags=["awards"])

Uow = Annotated[UnitOfWork[AwardsRepository], Depends(unit_of_work(AwardsRepository))]


async def get_settings(request: Request) -> AwardsSettings:  # async: FastAPI runs a plain def in a thread
    return cast(AwardsSettings, get_runtime(request).settings)


Settings = Annotated[AwardsSettings, Depends(get_settings)]


# --------------------------------------------------------------------------- views


def _criteria_view(criteria: Sequence[Criterion]) -> list[CriterionView]:
    return [CriterionView(**c.model_dump()) for c in criteria]


def _scorecard_view(card: Scorecard, weighted_score: float) -> ScorecardView:
    return ScorecardView(
        juror_id=card.juror_id,
        scores=[ScoreView(criterion=s.criterion, score=s.score, comment=s.comment) for s in card.scores],
        overall_comment=card.overall_comment,
        submitted_at=card.submitted_at,
        weighted_score=round(weighted_score, 4),
    )


def _own_scorecard_view(card: Scorecard, criteria: Sequence[Criterion]) -> ScorecardView:
    return _scorecard_view(card, domain.weighted_score(criteria, card.by_criterion()))


def _decision_view(evaluation: Evaluation) -> DecisionView | None:
    if evaluation.outcome is None or evaluation.decided_at is None:
        return None
    return DecisionView(
        outcome=AwardOutcome(evaluation.outcome),
        feedback=evaluation.feedback or "",
        weighted_score=evaluation.weighted_score,
        rank_in_category=evaluation.rank_in_category,
        decided_by=evaluation.decided_by or "",
        decided_at=evaluation.decided_at,
    )


def _content_view(content: CaseContent | None) -> CaseContentView | None:
    if content is None:
        return None
    return CaseContentView(
        revision=content.revision,
        title=content.title,
        summary=content.summary,
        problem=content.problem,
        solution=content.solution,
        organisation_name=content.organisation_name,
        team=[PersonView(name=p.name, role=p.role) for p in content.team],
        partners=[PersonView(name=p.name, role=p.role) for p in content.partners],
        oecd_principles=list(content.oecd_principles),
        iso_stage=content.iso_stage,
        drivers=list(content.drivers),
        obstacles=list(content.obstacles),
    )


def _feedback_view(item: FeedbackItem, states: Mapping[uuid.UUID, PointState]) -> ReviewFeedbackView:
    state = states.get(item.point_id) if item.point_id is not None else None
    return ReviewFeedbackView(
        checklist_item=item.checklist_item,
        met=item.met,
        comment=item.comment,
        point_id=item.point_id,
        status=state.status if state is not None else None,
        addressed_in_revision=state.addressed_in_revision if state is not None else None,
    )


def _history_view(dossier: Dossier) -> list[ReviewRoundView]:
    states = dossier.point_states()
    return [
        ReviewRoundView(
            iteration=r.iteration,
            stage=r.stage,
            revision=r.revision,
            opened_at=r.opened_at,
            outcome=r.outcome,
            comment=r.comment,
            feedback=[_feedback_view(f, states) for f in r.feedback],
            settled_at=r.settled_at,
        )
        for r in dossier.rounds
    ]


def _revisions_view(dossier: Dossier) -> list[RevisionNoteView]:
    return [
        RevisionNoteView(
            revision=n.revision,
            change_note=n.change_note,
            addressed_points=list(n.addressed_points),
            received_at=n.received_at,
        )
        for n in dossier.revisions
    ]


def _assignment_view(assigned: workflow.AssignedCase) -> AssignmentView:
    a = assigned.assignment
    return AssignmentView(
        case=a.evaluation.case,
        status=a.evaluation.status,
        criteria=_criteria_view(a.evaluation.criteria),
        assigned_at=a.assigned_at,
        scoring_due_at=a.scoring_due_at,
        my_scores=_own_scorecard_view(a.scorecard, a.evaluation.criteria) if a.scorecard else None,
        content=_content_view(assigned.dossier.content),
        review_history=_history_view(assigned.dossier),
        revisions=_revisions_view(assigned.dossier),
    )


def _criteria_result_view(call_id: uuid.UUID, result: workflow.CallCriteria) -> CriteriaView:
    return CriteriaView(
        call_id=call_id, criteria=_criteria_view(result.criteria), is_default=result.is_default, source=result.source
    )


def _jury_view(call_id: uuid.UUID, state: workflow.JuryState) -> JuryView:
    return JuryView(
        call_id=call_id,
        jurors=[
            JurorView(
                user_id=j.user_id,
                name=j.name,
                email=j.email,
                organisation_id=j.organisation_id,
                conflicts=sorted(j.conflicts),
                language=j.language,
                assigned_cases=state.loads.get(j.user_id, 0),
            )
            for j in state.jury.jurors
        ],
        jurors_per_case=state.jury.jurors_per_case,
        scoring_due_at=state.jury.scoring_due_at,
        assignments_added=state.assignments_added,
    )


# --------------------------------------------------------------------------- calls: criteria and jury


@router.put(
    "/calls/{call_id}/criteria",
    response_model=CriteriaView,
    responses={409: {"description": "a case of the call has been scored; its criteria can no longer change"}},
)
async def set_criteria(call_id: uuid.UUID, body: CriteriaBody, operator: Operator, uow: Uow) -> CriteriaView:
    """Override the call's announced criteria in awards; refused once any case of the call has been scored."""
    result = await workflow.set_criteria(
        uow=uow,
        call_id=call_id,
        criteria=[Criterion(**c.model_dump()) for c in body.criteria],
        operator_id=operator.user_id,
    )
    return _criteria_result_view(call_id, result)


@router.get("/calls/{call_id}/criteria", response_model=CriteriaView)
async def get_criteria(call_id: uuid.UUID, _: Operator, uow: Uow) -> CriteriaView:
    return _criteria_result_view(call_id, await workflow.call_criteria(uow=uow, call_id=call_id))


@router.put("/calls/{call_id}/jury", response_model=JuryView)
async def set_jury(call_id: uuid.UUID, body: JuryBody, operator: Operator, uow: Uow, settings: Settings) -> JuryView:
    """Store the call's panel (each juror's language for their notices) and its scoring deadline, drop assignments
    the panel now declares conflicted, and fill open evaluations; jurors newly assigned are told
    (``kipina.award.jurors_assigned.v1``)."""
    jury = body.to_jury()
    state = await workflow.set_jury(
        uow=uow, call_id=call_id, jury=jury, operator_id=operator.user_id, scoring_period=settings.scoring_period
    )
    return _jury_view(call_id, state)


@router.get("/calls/{call_id}/jury", response_model=JuryView)
async def get_jury(call_id: uuid.UUID, _: Operator, uow: Uow) -> JuryView:
    return _jury_view(call_id, await workflow.get_jury(uow=uow, call_id=call_id))


@router.get("/calls/{call_id}/leaderboard", response_model=LeaderboardView)
async def get_leaderboard(
    call_id: uuid.UUID,
    _: Operator,
    uow: Uow,
    category: Category | None = None,
    normalise: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> LeaderboardView:
    """Evaluated cases ranked per category; ``normalise=true`` ranks by per-juror z-scores instead."""
    rows = await workflow.leaderboard(uow=uow, call_id=call_id, category=category, normalise=normalise)
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
async def publish_results(call_id: uuid.UUID, _: Operator, uow: Uow) -> PublishView:
    """Release every decided evaluation of the call to its submitter at once; their decisions become final."""
    published = await workflow.publish_results(uow=uow, call_id=call_id)
    return PublishView(call_id=call_id, published=published)


# --------------------------------------------------------------------------- evaluations: operators


@router.get("/evaluations", response_model=Page[EvaluationSummary])
async def list_evaluations(
    _: Operator,
    uow: Uow,
    call_id: uuid.UUID | None = None,
    status_: Annotated[EvaluationStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[EvaluationSummary]:
    evaluations, total = await workflow.list_evaluations(
        uow=uow, call_id=call_id, status=status_, limit=limit, offset=offset
    )
    return Page[EvaluationSummary](
        items=[
            EvaluationSummary(
                case=e.case,
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
async def get_evaluation(case_id: uuid.UUID, _: Operator, uow: Uow) -> EvaluationView:
    """Everything about one evaluation, including every juror's scores and comments."""
    detail = await workflow.evaluation_detail(uow=uow, case_id=case_id)
    evaluation = detail.evaluation
    juror_scores = [domain.weighted_score(evaluation.criteria, c.by_criterion()) for c in detail.scorecards]
    mean_score = domain.mean(juror_scores)
    scored = {c.juror_id for c in detail.scorecards}
    return EvaluationView(
        case=evaluation.case,
        status=evaluation.status,
        criteria=_criteria_view(evaluation.criteria),
        opened_at=evaluation.opened_at,
        jurors=[JurorAssignmentView(juror_id=j, scored=j in scored) for j in detail.assigned],
        recused_juror_ids=sorted(detail.recused),
        scorecards=[_scorecard_view(c, s) for c, s in zip(detail.scorecards, juror_scores, strict=True)],
        weighted_score=round(mean_score, 4) if mean_score is not None else None,
        decision=_decision_view(evaluation),
        published_at=evaluation.published_at,
        withdrawn_at=evaluation.withdrawn_at,
        content=_content_view(detail.dossier.content),
        review_history=_history_view(detail.dossier),
        revisions=_revisions_view(detail.dossier),
    )


@router.post(
    "/evaluations/{case_id}/decision",
    response_model=DecisionView,
    responses={
        409: {"description": "the evaluation is decided or withdrawn, no juror is assigned, or not all have scored"}
    },
)
async def decide(case_id: uuid.UUID, body: DecisionBody, operator: Operator, uow: Uow) -> DecisionView:
    """Decide once every assigned juror has scored; emits AwardDecidedV1 (embargoed until the results are
    published). Deciding again before publication replaces the decision; after it, 409 ``results_published``."""
    decided = await workflow.decide(
        uow=uow,
        case_id=case_id,
        outcome=body.outcome,
        feedback=body.feedback,
        operator_id=operator.user_id,
    )
    view = _decision_view(decided)
    assert view is not None
    return view


# --------------------------------------------------------------------------- jurors


@router.get("/assignments", response_model=Page[AssignmentView])
async def my_assignments(
    juror: Juror,
    uow: Uow,
    status_: Annotated[EvaluationStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AssignmentView]:
    """The evaluations assigned to the calling juror: the whole case (content, review history with its feedback
    points, revisions), the criteria with their descriptions and scales, and the juror's scores so far."""
    assignments, total = await workflow.juror_assignments(
        uow=uow, juror_id=juror.user_id, status=status_, limit=limit, offset=offset
    )
    return Page[AssignmentView](
        items=[_assignment_view(a) for a in assignments], limit=limit, offset=offset, total=total
    )


@router.get("/assignments/{case_id}", response_model=AssignmentView)
async def my_assignment(case_id: uuid.UUID, juror: Juror, uow: Uow) -> AssignmentView:
    """One case assigned to the calling juror, whole; a case they are not assigned to does not exist for them (404)."""
    return _assignment_view(await workflow.juror_assignment(uow=uow, case_id=case_id, juror_id=juror.user_id))


@router.put(
    "/evaluations/{case_id}/scores",
    response_model=ScorecardView,
    responses={409: {"description": "the evaluation is decided or withdrawn"}},
)
async def submit_scores(case_id: uuid.UUID, body: ScorecardBody, juror: Juror, uow: Uow) -> ScorecardView:
    """Score every criterion once; a resubmission replaces the juror's earlier scores."""
    evaluation, card = await workflow.submit_scores(
        uow=uow,
        case_id=case_id,
        juror_id=juror.user_id,
        scores=[ScoreEntry(criterion=s.criterion, score=s.score, comment=s.comment) for s in body.scores],
        overall_comment=body.overall_comment,
    )
    return _own_scorecard_view(card, evaluation.criteria)


@router.post(
    "/evaluations/{case_id}/conflict",
    response_model=ConflictView,
    responses={409: {"description": "the evaluation is decided or withdrawn"}},
)
async def declare_conflict(
    case_id: uuid.UUID, body: ConflictBody, juror: Juror, uow: Uow, settings: Settings
) -> ConflictView:
    """The juror recuses themselves: unassigned (scores dropped), and a replacement assigned if the panel allows."""
    replacements = await workflow.declare_conflict(
        uow=uow, case_id=case_id, juror_id=juror.user_id, reason=body.reason, scoring_period=settings.scoring_period
    )
    return ConflictView(case_id=case_id, juror_id=juror.user_id, recused=True, replacement_assigned=bool(replacements))

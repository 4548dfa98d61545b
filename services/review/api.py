"""Review's HTTP API: reviewers pull tasks from the queue, decide them; operators watch the queue.

Each route parses, hands plain values or a command to one use case in workflow.py with a unit of work,
and converts the result; refusals (``shared.errors``) become HTTP errors in shared/http_errors.py.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.review import domain, workflow
from services.review.domain import FeedbackPoint, IterationRecord, RevisionNote, Task, TaskSlot, TaskStatus, Verdict
from services.review.repository import ReviewRepository
from services.review.schemas import (
    CallView,
    CaseView,
    DecisionIn,
    DecisionOut,
    FeedbackOut,
    FeedbackPointOut,
    IterationOut,
    IterationsPage,
    QueueItem,
    QueuePage,
    ReviewDecisionOut,
    RevisionOut,
    TaskOut,
)
from services.review.settings import ReviewSettings
from shared.auth import Operator, Principal, Reviewer, require_roles
from shared.events import FeedbackItem
from shared.feedback import PointState
from shared.http import get_runtime, unit_of_work
from shared.pagination import Limit, Offset
from shared.uow import UnitOfWork
from shared.vocabulary import Role

router = APIRouter(tags=["review"])

Uow = Annotated[UnitOfWork[ReviewRepository], Depends(unit_of_work(ReviewRepository))]
ReviewerOrOperator = Annotated[Principal, Depends(require_roles(Role.REVIEWER, Role.OPERATOR))]
HistoryReader = Annotated[Principal, Depends(require_roles(Role.REVIEWER, Role.OPERATOR, Role.SUBMITTER))]


async def get_settings(request: Request) -> ReviewSettings:  # async: FastAPI runs a plain def in a thread
    return cast(ReviewSettings, get_runtime(request).settings)


Settings = Annotated[ReviewSettings, Depends(get_settings)]


# --------------------------------------------------------------------------- tasks


@router.post(
    "/tasks/claim",
    response_model=TaskOut,
    responses={204: {"description": "no task is available to this reviewer"}},
)
async def claim_task(uow: Uow, reviewer: Reviewer, settings: Settings) -> Any:
    """Claim the available task due first, with a lease; 204 when nothing is available.

    The task comes with the case's earlier iterations, their feedback points (open or addressed by which
    revision) and the revisions' notes.
    """
    brief = await workflow.claim_task(uow=uow, reviewer=reviewer, lease=settings.lease)
    if brief is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return _task_out(brief)


@router.get("/tasks/{task_id}", response_model=TaskOut)
async def get_task(task_id: uuid.UUID, uow: Uow, principal: ReviewerOrOperator) -> TaskOut:
    """A task with the case's earlier iterations and feedback points, for the reviewer who claimed it or an
    operator."""
    return _task_out(await workflow.get_task(uow=uow, task_id=task_id, viewer=principal))


@router.post(
    "/tasks/{task_id}/release",
    response_model=TaskOut,
    responses={409: {"description": "the task is not claimed (any more)"}},
)
async def release_task(task_id: uuid.UUID, uow: Uow, reviewer: Reviewer) -> TaskOut:
    """Give a claimed task back to the queue."""
    return _task_out(await workflow.release_task(uow=uow, task_id=task_id, reviewer=reviewer))


@router.post(
    "/tasks/{task_id}/decision",
    response_model=DecisionOut,
    responses={
        409: {
            "description": "the claim's lease ran out, the task is decided or cancelled, the case is from the "
            "reviewer's organisation, or the case's state does not take this decision"
        }
    },
)
async def decide_task(
    task_id: uuid.UUID, body: DecisionIn, uow: Uow, reviewer: Reviewer, settings: Settings
) -> DecisionOut:
    """Decide a claimed task; the iteration settles once all its reviewers decided.

    With one reviewer per iteration the decision settles the iteration at once. With two (four-eyes), the first
    decision is recorded and the iteration waits for the second (``outcome`` is null until then). Agreeing
    decisions stand; differing ones resolve to the more cautious: reject, then request changes, then advance,
    then nominate. So a single "no" is never overruled by a "yes", and a nomination needs both reviewers.
    """
    verdict = Verdict(
        decision=body.decision,
        comment=body.comment,
        feedback=tuple(
            FeedbackItem(checklist_item=f.checklist_item, met=f.met, comment=f.comment) for f in body.feedback
        ),
    )
    result = await workflow.decide_task(
        uow=uow, task_id=task_id, reviewer=reviewer, verdict=verdict, timebox=settings.timebox
    )
    return DecisionOut(
        task_id=result.task_id,
        case_id=result.case_id,
        iteration=result.iteration,
        decision=result.decision,
        outcome=result.outcome,
        case_status=result.review_status,
        stage=result.stage,
        next_iteration=result.next_iteration,
    )


# --------------------------------------------------------------------------- operators and history


@router.get("/queue", response_model=QueuePage)
async def queue(
    uow: Uow,
    _: Operator,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> QueuePage:
    """All review tasks, due first; filter with ``status``."""
    tasks, total = await workflow.list_queue(uow=uow, status=task_status, limit=limit, offset=offset)
    return QueuePage(items=[_queue_item(t) for t in tasks], limit=limit, offset=offset, total=total)


@router.get("/cases/{case_id}/iterations", response_model=IterationsPage)
async def case_iterations(
    case_id: uuid.UUID,
    uow: Uow,
    principal: HistoryReader,
    limit: Limit = 50,
    offset: Offset = 0,
) -> IterationsPage:
    """A case's iterations: each settled one's reasons and typed feedback, the feedback points (open, or addressed
    by which revision) and the revisions' notes.

    Operators and reviewers (not of the case's organisation) also see each reviewer's decision. The case's own
    submitter sees the rest; for anyone else the case does not exist (404).
    """
    history = await workflow.case_history(uow=uow, case_id=case_id, viewer=principal, limit=limit, offset=offset)
    states = _states(history.points)
    return IterationsPage(
        case_id=case_id,
        case_status=history.case.status,
        stage=history.case.stage,
        items=[_iteration_out(r, states) for r in history.iterations],
        points=[_point_out(p) for p in history.points],
        revisions=[_revision_out(r) for r in history.revisions],
        limit=limit,
        offset=offset,
        total=history.total,
    )


# --------------------------------------------------------------------------- views


def _states(points: list[FeedbackPoint]) -> dict[uuid.UUID, PointState]:
    return {p.point_id: p.state for p in points}


def _feedback_out(feedback: tuple[FeedbackItem, ...], states: dict[uuid.UUID, PointState]) -> list[FeedbackOut]:
    views = []
    for f in feedback:
        state = states.get(f.point_id) if f.point_id is not None else None
        views.append(
            FeedbackOut(
                checklist_item=f.checklist_item,
                met=f.met,
                comment=f.comment,
                point_id=f.point_id,
                status=state.status if state is not None else None,
                addressed_in_revision=state.addressed_in_revision if state is not None else None,
            )
        )
    return views


def _point_out(point: FeedbackPoint) -> FeedbackPointOut:
    return FeedbackPointOut(
        point_id=point.point_id,
        iteration=point.iteration,
        checklist_item=point.checklist_item,
        comment=point.comment,
        status=point.state.status,
        addressed_in_revision=point.state.addressed_in_revision,
    )


def _revision_out(note: RevisionNote) -> RevisionOut:
    return RevisionOut(
        revision=note.revision,
        change_note=note.change_note,
        addressed_points=list(note.addressed_points),
        received_at=note.received_at,
    )


def _iteration_out(record: IterationRecord, states: dict[uuid.UUID, PointState]) -> IterationOut:
    i = record.iteration
    return IterationOut(
        iteration=i.iteration,
        stage=i.stage,
        revision=i.revision,
        status=i.status,
        outcome=i.outcome,
        opened_at=i.opened_at,
        due_at=i.due_at,
        escalated_at=i.escalated_at,
        closed_at=i.closed_at,
        comment=record.comment,
        feedback=_feedback_out(record.feedback, states),
        decisions=[_review_decision_out(t, states) for t in record.slots],
    )


def _task_out(brief: workflow.TaskBrief) -> TaskOut:
    task = brief.task
    states = _states(brief.points)
    return TaskOut(
        task_id=task.task_id,
        case_id=task.case_id,
        iteration=task.iteration,
        slot=task.slot,
        stage=task.stage,
        status=task.status,
        lease_expired=task.lease_expired,
        reviewer_id=task.reviewer_id,
        claimed_at=task.claimed_at,
        lease_expires_at=task.lease_expires_at,
        due_at=task.due_at,
        decision=task.decision,
        comment=task.comment,
        feedback=_feedback_out(task.feedback, states),
        decided_at=task.decided_at,
        case=_case_view(task),
        checklist=domain.checklist(task.stage),
        earlier_iterations=[_iteration_out(r, states) for r in brief.earlier],
        points=[_point_out(p) for p in brief.points],
        revisions=[_revision_out(r) for r in brief.revisions],
    )


def _case_view(task: Task) -> CaseView:
    case = task.case
    return CaseView(
        **case.header.model_dump(),
        problem=case.details.problem,
        solution=case.details.solution,
        stage=task.stage,  # the stage the task is reviewed at
        revision=case.revision,
        status=case.status,
        reviewers_per_iteration=case.reviewers_per_iteration,
        oecd_principles=list(case.details.oecd_principles),
        drivers=list(case.details.drivers),
        obstacles=list(case.details.obstacles),
        call=CallView(**asdict(task.call)) if task.call is not None else None,
    )


def _queue_item(task: Task) -> QueueItem:
    return QueueItem(
        task_id=task.task_id,
        case_id=task.case_id,
        call_id=task.case.call_id,
        title=task.case.header.title,
        organisation_name=task.case.header.organisation_name,
        iteration=task.iteration,
        slot=task.slot,
        stage=task.stage,
        status=task.status,
        lease_expired=task.lease_expired,
        reviewer_id=task.reviewer_id,
        lease_expires_at=task.lease_expires_at,
        due_at=task.due_at,
        decision=task.decision,
        created_at=task.created_at,
    )


def _review_decision_out(slot: TaskSlot, states: dict[uuid.UUID, PointState]) -> ReviewDecisionOut:
    return ReviewDecisionOut(
        task_id=slot.task_id,
        slot=slot.slot,
        status=slot.status,
        reviewer_id=slot.reviewer_id,
        decision=slot.decision,
        comment=slot.comment,
        feedback=_feedback_out(slot.feedback, states),
        decided_at=slot.decided_at,
    )

"""Review's HTTP API: reviewers pull tasks from the queue, decide them; operators watch the queue."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from services.review import domain
from services.review import repository as repo
from services.review.domain import CaseStatus, Decision, DecisionNotAllowed, TaskStatus
from services.review.schemas import (
    CaseView,
    DecisionIn,
    DecisionOut,
    FeedbackOut,
    IterationOut,
    IterationsPage,
    QueueItem,
    QueuePage,
    ReviewDecisionOut,
    TaskOut,
)
from services.review.settings import ReviewSettings
from shared import outbox
from shared.auth import Operator, Principal, Reviewer, require_roles
from shared.db import Connection
from shared.events import FeedbackItem, IterationOpenedV1
from shared.logging import bind_event_context, get_logger
from shared.pagination import Limit, Offset
from shared.service import CorrelationId, Db, get_runtime
from shared.vocabulary import Category, IsoStage, Language, Role

SERVICE = "review"

log = get_logger(__name__)
router = APIRouter(tags=["review"])

ReviewerOrOperator = Annotated[Principal, Depends(require_roles(Role.REVIEWER, Role.OPERATOR))]

# A claim may lose a race against the same reviewer's concurrent claim (four-eyes index); try again a few times.
_CLAIM_ATTEMPTS = 3


def get_settings(request: Request) -> ReviewSettings:
    return cast(ReviewSettings, get_runtime(request).settings)


Settings = Annotated[ReviewSettings, Depends(get_settings)]


# --------------------------------------------------------------------------- views


def _case_view(row: asyncpg.Record) -> CaseView:
    details: dict[str, Any] = row["details"] or {}
    return CaseView(
        case_id=row["case_id"],
        call_id=row["call_id"],
        call_title=row["call_title"],
        title=row["title"],
        summary=row["summary"],
        problem=details.get("problem", ""),
        solution=details.get("solution", ""),
        category=Category(row["category"]),
        language=Language(row["language"]),
        organisation_id=row["organisation_id"],
        organisation_name=row["organisation_name"],
        stage=IsoStage(row["stage"]),
        revision=row["case_revision"],
        status=CaseStatus(row["case_status"]),
        reviewers_per_iteration=row["reviewers_per_iteration"],
        oecd_principles=details.get("oecd_principles", []),
        drivers=details.get("drivers", []),
        obstacles=details.get("obstacles", []),
    )


def _feedback(raw: list[dict[str, Any]] | None) -> list[FeedbackOut]:
    return [FeedbackOut.model_validate(item) for item in raw or []]


def _task_out(row: asyncpg.Record) -> TaskOut:
    stage = IsoStage(row["stage"])
    return TaskOut(
        task_id=row["task_id"],
        case_id=row["case_id"],
        iteration=row["iteration"],
        slot=row["slot"],
        stage=stage,
        status=TaskStatus(row["status"]),
        lease_expired=row["lease_expired"],
        reviewer_id=row["reviewer_id"],
        claimed_at=row["claimed_at"],
        lease_expires_at=row["lease_expires_at"],
        due_at=row["due_at"],
        decision=row["decision"],
        comment=row["comment"],
        feedback=_feedback(row["feedback"]),
        decided_at=row["decided_at"],
        case=_case_view(row),
        checklist=domain.checklist(stage),
    )


def _holds(task: asyncpg.Record, principal: Principal) -> bool:
    return bool(task["reviewer_id"] == principal.user_id and principal.has(Role.REVIEWER))


def _not_found(task_id: uuid.UUID) -> HTTPException:
    # The same answer for "no such task" and "someone else's task": never leak that it exists.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id} held by you")


# --------------------------------------------------------------------------- tasks


@router.post(
    "/tasks/claim",
    response_model=TaskOut,
    responses={204: {"description": "no task is available to this reviewer"}},
)
async def claim_task(pool: Db, reviewer: Reviewer, settings: Settings, cid: CorrelationId) -> Any:
    """Claim the available task due first, with a lease; 204 when nothing is available."""
    for attempt in range(1, _CLAIM_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                task = await repo.claim_next_task(
                    conn, reviewer_id=reviewer.user_id, reviewer_org=reviewer.organisation_id, lease=settings.lease
                )
            break
        except asyncpg.UniqueViolationError:
            log.info("claim lost a four-eyes race; retrying", attempt=attempt)
    else:
        task = None
    if task is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    with bind_event_context(case_id=str(task["case_id"]), correlation_id=cid):
        log.info("task claimed", task_id=str(task["task_id"]), iteration=task["iteration"], reviewer=reviewer.user_id)
    return _task_out(task)


@router.get("/tasks/{task_id}", response_model=TaskOut)
async def get_task(task_id: uuid.UUID, pool: Db, principal: ReviewerOrOperator) -> TaskOut:
    """A task, for the reviewer who claimed it or an operator."""
    async with pool.acquire() as conn:
        task = await repo.get_task(conn, task_id=task_id)
    if task is None or not (principal.has(Role.OPERATOR) or _holds(task, principal)):
        raise _not_found(task_id)
    return _task_out(task)


@router.post("/tasks/{task_id}/release", response_model=TaskOut)
async def release_task(task_id: uuid.UUID, pool: Db, reviewer: Reviewer, cid: CorrelationId) -> TaskOut:
    """Give a claimed task back to the queue."""
    async with pool.acquire() as conn, conn.transaction():
        task = await repo.get_task(conn, task_id=task_id, for_update=True)
        if task is None or not _holds(task, reviewer):
            raise _not_found(task_id)
        if task["status"] != TaskStatus.CLAIMED:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"the task is {task['status']}; only a claimed task can be released"
            )
        await repo.release_task(conn, task_id=task_id)
        released = await repo.get_task(conn, task_id=task_id)
    assert released is not None
    with bind_event_context(case_id=str(task["case_id"]), correlation_id=cid):
        log.info("task released", task_id=str(task_id))
    return _task_out(released)


@router.post("/tasks/{task_id}/decision", response_model=DecisionOut)
async def decide_task(
    task_id: uuid.UUID, body: DecisionIn, pool: Db, reviewer: Reviewer, settings: Settings, cid: CorrelationId
) -> DecisionOut:
    """Decide a claimed task; the iteration settles once all its reviewers decided (see domain.py)."""
    async with pool.acquire() as conn, conn.transaction():
        found = await repo.get_task(conn, task_id=task_id)
        if found is None or not _holds(found, reviewer):
            raise _not_found(task_id)
        with bind_event_context(case_id=str(found["case_id"]), correlation_id=cid):
            # Lock the case first: the decisions of one case (both four-eyes slots) settle one after the other.
            await repo.get_case(conn, case_id=found["case_id"], for_update=True)
            task = await repo.get_task(conn, task_id=task_id, for_update=True)
            if task is None or not _holds(task, reviewer):
                raise _not_found(task_id)
            return await _decide(conn, task=task, body=body, reviewer=reviewer, settings=settings, cid=cid)


async def _decide(
    conn: Connection,
    *,
    task: asyncpg.Record,
    body: DecisionIn,
    reviewer: Principal,
    settings: ReviewSettings,
    cid: str,
) -> DecisionOut:
    match TaskStatus(task["status"]):
        case TaskStatus.DECIDED:
            raise HTTPException(status.HTTP_409_CONFLICT, "the task is already decided")
        case TaskStatus.CANCELLED:
            raise HTTPException(status.HTTP_409_CONFLICT, "the task was cancelled (the case was withdrawn)")
        case TaskStatus.QUEUED:
            raise HTTPException(status.HTTP_409_CONFLICT, "lease expired: claim the task again")
        case TaskStatus.CLAIMED if task["lease_expired"]:
            raise HTTPException(status.HTTP_409_CONFLICT, "lease expired: claim the task again")
    if task["organisation_id"] == reviewer.organisation_id:
        # The case's organisation changed to the reviewer's own in a revision after the claim.
        raise HTTPException(status.HTTP_409_CONFLICT, "conflict of interest: the case is from your organisation")
    stage = IsoStage(task["stage"])
    try:
        domain.check_decision(case_status=CaseStatus(task["case_status"]), stage=stage, decision=body.decision)
    except DecisionNotAllowed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    unknown = domain.unknown_checklist_items(stage, (f.checklist_item for f in body.feedback))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"feedback names items not on the {stage} checklist: {unknown}; the checklist is {domain.checklist(stage)}",
        )
    feedback = [FeedbackItem(checklist_item=f.checklist_item, met=f.met, comment=f.comment) for f in body.feedback]
    await repo.record_decision(
        conn, task_id=task["task_id"], decision=body.decision, comment=body.comment, feedback=feedback
    )

    case_id: uuid.UUID = task["case_id"]
    iteration: int = task["iteration"]
    slots = await repo.tasks_of_iterations(conn, case_id=case_id, iterations=[iteration])
    decided = [
        domain.ReviewerDecision(
            reviewer_id=t["reviewer_id"],
            decision=Decision(t["decision"]),
            comment=t["comment"] or "",
            feedback=tuple(FeedbackItem.model_validate(f) for f in t["feedback"] or []),
        )
        for t in slots
        if t["status"] == TaskStatus.DECIDED
    ]
    outcome = domain.resolve([d.decision for d in decided], required=len(slots))
    log.info("review decision recorded", task_id=str(task["task_id"]), decision=str(body.decision), outcome=outcome)
    answer = DecisionOut(
        task_id=task["task_id"],
        case_id=case_id,
        iteration=iteration,
        decision=body.decision,
        outcome=outcome,
        case_status=CaseStatus(task["case_status"]),
        stage=stage,
        next_iteration=None,
    )
    if outcome is None:
        return answer  # four-eyes: waiting for the other reviewer

    effect = domain.outcome_of(outcome, stage=stage)
    await repo.close_iteration(
        conn, case_id=case_id, iteration=iteration, status=effect.iteration_status, outcome=outcome
    )
    await repo.set_case_status(conn, case_id=case_id, status=effect.case_status, stage=effect.next_stage)
    facts = domain.CaseFacts(
        case_id=case_id,
        call_id=task["call_id"],
        call_title=task["call_title"],
        title=task["title"],
        summary=task["summary"],
        category=Category(task["category"]),
        language=Language(task["language"]),
        organisation_id=task["organisation_id"],
        organisation_name=task["organisation_name"],
    )
    event = domain.settled_event(outcome, case=facts, iteration=iteration, stage=stage, decisions=decided)
    await outbox.emit(conn, event, service=SERVICE, subject=str(case_id), correlation_id=cid)
    answer = answer.model_copy(update={"case_status": effect.case_status})
    if effect.opens_next_iteration and effect.next_stage is not None:
        opened = await repo.open_iteration(
            conn,
            case_id=case_id,
            stage=effect.next_stage,
            revision=task["case_revision"],
            reviewers=task["reviewers_per_iteration"],
            timebox=settings.timebox,
        )
        await outbox.emit(
            conn,
            _iteration_opened(opened, call_id=task["call_id"]),
            service=SERVICE,
            subject=str(case_id),
            correlation_id=cid,
        )
        answer = answer.model_copy(update={"stage": effect.next_stage, "next_iteration": opened["iteration"]})
    log.info("iteration settled", iteration=iteration, outcome=str(outcome), case_status=str(effect.case_status))
    return answer


def _iteration_opened(row: asyncpg.Record, *, call_id: uuid.UUID) -> IterationOpenedV1:
    return IterationOpenedV1(
        case_id=row["case_id"],
        call_id=call_id,
        iteration=row["iteration"],
        revision=row["revision"],
        stage=IsoStage(row["stage"]),
        due_at=row["due_at"],
    )


# --------------------------------------------------------------------------- operators and history


@router.get("/queue", response_model=QueuePage)
async def queue(
    pool: Db,
    _: Operator,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> QueuePage:
    """All review tasks, due first; filter with ``status``."""
    async with pool.acquire() as conn:
        rows, total = await repo.list_tasks(conn, status=task_status, limit=limit, offset=offset)
    items = [
        QueueItem(
            task_id=r["task_id"],
            case_id=r["case_id"],
            call_id=r["call_id"],
            title=r["title"],
            organisation_name=r["organisation_name"],
            iteration=r["iteration"],
            slot=r["slot"],
            stage=IsoStage(r["stage"]),
            status=TaskStatus(r["status"]),
            lease_expired=r["lease_expired"],
            reviewer_id=r["reviewer_id"],
            lease_expires_at=r["lease_expires_at"],
            due_at=r["due_at"],
            decision=r["decision"],
            created_at=r["created_at"],
        )
        for r in rows
    ]
    return QueuePage(items=items, limit=limit, offset=offset, total=total)


@router.get("/cases/{case_id}/iterations", response_model=IterationsPage)
async def case_iterations(
    case_id: uuid.UUID,
    pool: Db,
    principal: ReviewerOrOperator,
    limit: Limit = 50,
    offset: Offset = 0,
) -> IterationsPage:
    """A case's iterations with their reviewers' decisions."""
    async with pool.acquire() as conn:
        case = await repo.get_case(conn, case_id=case_id)
        # The conflict rule also hides a case from reviewers of its own organisation.
        if case is None or (not principal.has(Role.OPERATOR) and case["organisation_id"] == principal.organisation_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
        total = await repo.count_iterations(conn, case_id=case_id)
        rows = await repo.list_iterations(conn, case_id=case_id, limit=limit, offset=offset)
        tasks = await repo.tasks_of_iterations(conn, case_id=case_id, iterations=[r["iteration"] for r in rows])
    items = [
        IterationOut(
            iteration=r["iteration"],
            stage=IsoStage(r["stage"]),
            revision=r["revision"],
            status=r["status"],
            outcome=r["outcome"],
            opened_at=r["opened_at"],
            due_at=r["due_at"],
            escalated_at=r["escalated_at"],
            closed_at=r["closed_at"],
            decisions=[
                ReviewDecisionOut(
                    task_id=t["task_id"],
                    slot=t["slot"],
                    status=TaskStatus(t["status"]),
                    reviewer_id=t["reviewer_id"],
                    decision=t["decision"],
                    comment=t["comment"],
                    feedback=_feedback(t["feedback"]),
                    decided_at=t["decided_at"],
                )
                for t in tasks
                if t["iteration"] == r["iteration"]
            ],
        )
        for r in rows
    ]
    return IterationsPage(
        case_id=case_id,
        case_status=CaseStatus(case["status"]),
        stage=IsoStage(case["stage"]),
        items=items,
        limit=limit,
        offset=offset,
        total=total,
    )

"""Review's HTTP API: reviewers pull tasks from the queue, decide them; operators watch the queue.

Each route hands the request to one use case in workflow.py (which opens the transaction) and shapes
the result into its response schema; the rules' refusals (``shared.errors``) become HTTP errors in ``shared.service``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.review import domain, workflow
from services.review.domain import CaseStatus, TaskStatus
from services.review.schemas import (
    CaseView,
    DecisionIn,
    DecisionOut,
    IterationOut,
    IterationsPage,
    QueueItem,
    QueuePage,
    ReviewDecisionOut,
    TaskOut,
)
from services.review.settings import ReviewSettings
from shared.auth import Operator, Principal, Reviewer, require_roles
from shared.pagination import Limit, Offset
from shared.service import CorrelationId, Db, get_runtime
from shared.vocabulary import Category, IsoStage, Language, Role

router = APIRouter(tags=["review"])

ReviewerOrOperator = Annotated[Principal, Depends(require_roles(Role.REVIEWER, Role.OPERATOR))]


def get_settings(request: Request) -> ReviewSettings:
    return cast(ReviewSettings, get_runtime(request).settings)


Settings = Annotated[ReviewSettings, Depends(get_settings)]


# --------------------------------------------------------------------------- tasks


@router.post(
    "/tasks/claim",
    response_model=TaskOut,
    responses={204: {"description": "no task is available to this reviewer"}},
)
async def claim_task(pool: Db, reviewer: Reviewer, settings: Settings, cid: CorrelationId) -> Any:
    """Claim the available task due first, with a lease; 204 when nothing is available."""
    task = await workflow.claim_task(pool=pool, reviewer=reviewer, lease=settings.lease, correlation_id=cid)
    if task is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return _task_out(task)


@router.get("/tasks/{task_id}", response_model=TaskOut)
async def get_task(task_id: uuid.UUID, pool: Db, principal: ReviewerOrOperator) -> TaskOut:
    """A task, for the reviewer who claimed it or an operator."""
    return _task_out(await workflow.get_task(pool=pool, task_id=task_id, principal=principal))


@router.post("/tasks/{task_id}/release", response_model=TaskOut)
async def release_task(task_id: uuid.UUID, pool: Db, reviewer: Reviewer, cid: CorrelationId) -> TaskOut:
    """Give a claimed task back to the queue."""
    return _task_out(await workflow.release_task(pool=pool, task_id=task_id, reviewer=reviewer, correlation_id=cid))


@router.post("/tasks/{task_id}/decision", response_model=DecisionOut)
async def decide_task(
    task_id: uuid.UUID, body: DecisionIn, pool: Db, reviewer: Reviewer, settings: Settings, cid: CorrelationId
) -> DecisionOut:
    """Decide a claimed task; the iteration settles once all its reviewers decided (see domain.py)."""
    result = await workflow.decide_task(
        pool=pool, task_id=task_id, reviewer=reviewer, decision_in=body, timebox=settings.timebox, correlation_id=cid
    )
    return DecisionOut.model_validate(result, from_attributes=True)


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
    rows, total = await workflow.list_queue(pool=pool, status=task_status, limit=limit, offset=offset)
    items = [QueueItem.model_validate(dict(r)) for r in rows]
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
    history = await workflow.case_history(pool=pool, case_id=case_id, principal=principal, limit=limit, offset=offset)
    items = [
        IterationOut.model_validate(
            {
                **r,
                "decisions": [
                    ReviewDecisionOut.model_validate(dict(t)) for t in history.tasks if t["iteration"] == r["iteration"]
                ],
            }
        )
        for r in history.iterations
    ]
    return IterationsPage(
        case_id=case_id,
        case_status=CaseStatus(history.case["status"]),
        stage=IsoStage(history.case["stage"]),
        items=items,
        limit=limit,
        offset=offset,
        total=history.total,
    )


# --------------------------------------------------------------------------- views


def _task_out(row: asyncpg.Record) -> TaskOut:
    return TaskOut.model_validate(
        {**row, "case": _case_view(row), "checklist": domain.checklist(IsoStage(row["stage"]))}
    )


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

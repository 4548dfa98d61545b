"""Intake's HTTP routes: calls (operators create, everyone reads) and cases (submitters file and revise).

Each route hands its parsed input to one use case in workflow.py and shapes the answer; the refusals
those raise (``shared.errors``) become HTTP errors in ``shared.service``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status

from services.intake import domain, workflow
from services.intake.domain import Call, CaseStatus, StoredCase
from services.intake.schemas import CallIn, CallOut, CaseIn, CaseOut, RevisionIn, TimelineItemOut, WithdrawIn
from shared.auth import CurrentUser, Operator, Principal, Submitter, require_roles
from shared.pagination import Limit, Offset, Page
from shared.service import CorrelationId, Db
from shared.vocabulary import Role

router = APIRouter()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="makes a retried POST safe: the same key returns the case first created with it",
    ),
]
SubmitterOrOperator = Annotated[Principal, Depends(require_roles(Role.SUBMITTER, Role.OPERATOR))]


# --------------------------------------------------------------------------- calls


def _call_out(call: Call) -> CallOut:
    return CallOut(
        id=call.id,
        title=call.title,
        description=call.description,
        opens_at=call.opens_at,
        closes_at=call.closes_at,
        categories=call.categories,
        languages=call.languages,
        reviewers_per_iteration=call.reviewers_per_iteration,
        open=domain.call_is_open(opens_at=call.opens_at, closes_at=call.closes_at, now=datetime.now(UTC)),
        created_by=call.created_by,
        created_at=call.created_at,
    )


@router.post("/calls", status_code=status.HTTP_201_CREATED, tags=["calls"])
async def create_call(body: CallIn, operator: Operator, pool: Db) -> CallOut:
    return _call_out(await workflow.create_call(pool=pool, body=body, operator=operator))


@router.get("/calls", tags=["calls"])
async def list_calls(
    _: CurrentUser,
    pool: Db,
    limit: Limit = 20,
    offset: Offset = 0,
    open_now: Annotated[bool | None, Query(alias="open", description="only calls open for submissions now")] = None,
) -> Page[CallOut]:
    calls, total = await workflow.list_calls(pool=pool, open_now=bool(open_now), limit=limit, offset=offset)
    return Page(items=[_call_out(c) for c in calls], limit=limit, offset=offset, total=total)


@router.get("/calls/{call_id}", tags=["calls"])
async def get_call(call_id: uuid.UUID, _: CurrentUser, pool: Db) -> CallOut:
    return _call_out(await workflow.get_call(pool=pool, call_id=call_id))


# --------------------------------------------------------------------------- cases


def _case_out(case: StoredCase, timeline: list[dict[str, Any]] | None = None) -> CaseOut:
    s = case.snapshot
    return CaseOut(
        id=s.case_id,
        call_id=s.call_id,
        call_title=s.call_title,
        title=s.title,
        summary=s.summary,
        problem=s.problem,
        solution=s.solution,
        organisation=s.organisation,
        submitter_id=s.submitter_id,
        submitter=s.submitter,
        team=s.team,
        partners=s.partners,
        category=s.category,
        language=s.language,
        oecd_principles=s.oecd_principles,
        iso_stage=s.iso_stage,
        drivers=s.drivers,
        obstacles=s.obstacles,
        status=case.progress.status,
        stage=case.progress.stage,
        revision=case.revision,
        iteration=case.progress.iteration,
        outcome=case.progress.outcome,
        feedback=case.progress.feedback,
        created_at=case.created_at,
        updated_at=case.updated_at,
        timeline=[TimelineItemOut(**t) for t in timeline] if timeline is not None else None,
    )


def _detail_out(detail: workflow.CaseDetail) -> CaseOut:
    return _case_out(detail.case, detail.timeline)


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    tags=["cases"],
    responses={200: {"description": "a retry with the same Idempotency-Key: the case first created"}},
)
async def submit_case(
    body: CaseIn,
    submitter: Submitter,
    pool: Db,
    correlation_id: CorrelationId,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    submission = await workflow.submit_case(
        pool=pool, body=body, submitter=submitter, correlation_id=correlation_id, idempotency_key=idempotency_key
    )
    if submission.replayed:
        response.status_code = status.HTTP_200_OK
    return _detail_out(submission.detail)


@router.get("/cases", tags=["cases"])
async def list_cases(
    principal: SubmitterOrOperator,
    pool: Db,
    limit: Limit = 20,
    offset: Offset = 0,
    call_id: uuid.UUID | None = None,
    status_filter: Annotated[CaseStatus | None, Query(alias="status")] = None,
) -> Page[CaseOut]:
    cases, total = await workflow.list_cases(
        pool=pool, principal=principal, call_id=call_id, status=status_filter, limit=limit, offset=offset
    )
    return Page(items=[_case_out(c) for c in cases], limit=limit, offset=offset, total=total)


@router.get("/cases/{case_id}", tags=["cases"])
async def get_case(case_id: uuid.UUID, principal: CurrentUser, pool: Db) -> CaseOut:
    return _detail_out(await workflow.get_case(pool=pool, case_id=case_id, principal=principal))


@router.post("/cases/{case_id}/revisions", tags=["cases"])
async def revise_case(
    case_id: uuid.UUID, body: RevisionIn, submitter: Submitter, pool: Db, correlation_id: CorrelationId
) -> CaseOut:
    detail = await workflow.revise_case(
        pool=pool, case_id=case_id, body=body, submitter=submitter, correlation_id=correlation_id
    )
    return _detail_out(detail)


@router.post("/cases/{case_id}/withdraw", tags=["cases"])
async def withdraw_case(
    case_id: uuid.UUID,
    submitter: Submitter,
    pool: Db,
    correlation_id: CorrelationId,
    body: WithdrawIn | None = None,
) -> CaseOut:
    detail = await workflow.withdraw_case(
        pool=pool,
        case_id=case_id,
        reason=body.reason if body is not None else "",
        submitter=submitter,
        correlation_id=correlation_id,
    )
    return _detail_out(detail)

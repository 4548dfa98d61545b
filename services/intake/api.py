"""Intake's HTTP routes: calls (operators create, everyone reads) and cases (submitters file and revise).

Each route parses, hands plain values or a command (domain.py) to one use case in workflow.py with a
unit of work, and converts the result; refusals (``shared.errors``) become HTTP errors in
shared/http_errors.py.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from services.intake import domain, workflow
from services.intake.domain import (
    Call,
    CallChanges,
    CaseChanges,
    CaseDraft,
    CaseStatus,
    FeedbackPoint,
    NewCall,
    Revision,
    StoredCase,
    TimelineItem,
)
from services.intake.repository import IntakeRepository
from services.intake.schemas import (
    CallChangesIn,
    CallIn,
    CallOut,
    CaseIn,
    CaseOut,
    ContactIn,
    CriterionOut,
    FeedbackPointOut,
    FeedbackPointsOut,
    RevisionIn,
    TimelineItemOut,
    WithdrawIn,
)
from services.intake.throttling import SubmissionLimits, submission_limits
from shared.auth import CurrentUser, Operator, Principal, Submitter, require_roles
from shared.events import Contact
from shared.http import unit_of_work
from shared.pagination import Limit, Offset, Page
from shared.uow import UnitOfWork
from shared.vocabulary import OecdPrinciple, Role

router = APIRouter()

Uow = Annotated[UnitOfWork[IntakeRepository], Depends(unit_of_work(IntakeRepository))]

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
Limits = Annotated[SubmissionLimits, Depends(submission_limits)]


async def admit_submission(request: Request, submitter: Submitter, limits: Limits) -> None:
    """Count a submitter's attempt against the submission limits (services/intake/throttling.py), or refuse it
    (429). After the token is checked (401/403 first), before the body is: an invalid body counts too."""
    await limits.admit_request(request, submitter_id=submitter.user_id)


TOO_MANY_SUBMISSIONS = {
    "description": "the submitter, or the client address, has submitted as many cases in the last minute as intake "
    "takes (`too_many_submissions`); `Retry-After` says in how many seconds the next is taken",
    "headers": {"Retry-After": {"description": "seconds until a submission is taken", "schema": {"type": "integer"}}},
}


# --------------------------------------------------------------------------- requests → commands


def _new_call(body: CallIn) -> NewCall:
    call = NewCall(
        title=body.title,
        description=body.description,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        categories=tuple(body.categories),
        languages=tuple(body.languages),
        reviewers_per_iteration=body.reviewers_per_iteration,
    )
    # Left out, the criteria are NewCall's default: the Quality Innovation Award's five.
    return call if body.criteria is None else replace(call, criteria=tuple(c.criterion() for c in body.criteria))


def _call_changes(body: CallChangesIn) -> CallChanges:
    return CallChanges(
        description=body.description,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        categories=tuple(body.categories) if body.categories is not None else None,
        languages=tuple(body.languages) if body.languages is not None else None,
        criteria=tuple(c.criterion() for c in body.criteria) if body.criteria is not None else None,
    )


def _contacts(contacts: list[ContactIn]) -> tuple[Contact, ...]:
    return tuple(c.contact() for c in contacts)


def _case_draft(body: CaseIn, *, submitter: Principal) -> CaseDraft:
    return CaseDraft(
        call_id=body.call_id,
        title=body.title,
        summary=body.summary,
        problem=body.problem,
        solution=body.solution,
        # The organisation is the submitter's token's; submit_case refuses a body that names another.
        organisation=body.organisation.organisation(token_id=submitter.organisation_id),
        category=body.category,
        language=body.language,
        oecd_principles=tuple(body.oecd_principles),
        iso_stage=body.iso_stage,
        team=_contacts(body.team),
        partners=_contacts(body.partners),
        drivers=tuple(body.drivers),
        obstacles=tuple(body.obstacles),
    )


def _revision(body: RevisionIn) -> Revision:
    return Revision(
        changes=CaseChanges(
            title=body.title,
            summary=body.summary,
            problem=body.problem,
            solution=body.solution,
            team=_contacts(body.team) if body.team is not None else None,
            partners=_contacts(body.partners) if body.partners is not None else None,
            iso_stage=body.iso_stage,
            drivers=tuple(body.drivers) if body.drivers is not None else None,
            obstacles=tuple(body.obstacles) if body.obstacles is not None else None,
            oecd_principles=tuple(body.oecd_principles) if body.oecd_principles is not None else None,
        ),
        change_note=body.change_note,
        addresses=tuple(dict.fromkeys(body.addresses)),  # naming a point twice means nothing more
    )


# --------------------------------------------------------------------------- results → responses


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
        criteria=[CriterionOut(**c.model_dump()) for c in call.criteria],
        revision=call.revision,
        open=domain.call_is_open(opens_at=call.opens_at, closes_at=call.closes_at, now=datetime.now(UTC)),
        created_by=call.created_by,
        created_at=call.created_at,
        updated_at=call.updated_at,
    )


def _timeline_item_out(item: TimelineItem) -> TimelineItemOut:
    return TimelineItemOut(
        at=item.at, kind=item.kind, summary=item.summary, iteration=item.iteration, details=item.details
    )


def _case_out(case: StoredCase, timeline: list[TimelineItem] | None = None) -> CaseOut:
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
        oecd_principles=[OecdPrinciple(p) for p in s.oecd_principles],
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
        timeline=[_timeline_item_out(t) for t in timeline] if timeline is not None else None,
    )


def _detail_out(detail: workflow.CaseDetail) -> CaseOut:
    return _case_out(detail.case, detail.timeline)


def _feedback_point_out(point: FeedbackPoint) -> FeedbackPointOut:
    return FeedbackPointOut(
        point_id=point.point_id,
        iteration=point.iteration,
        checklist_item=point.checklist_item,
        comment=point.comment,
        raised_at=point.raised_at,
        status=point.state.status,
        addressed_in_revision=point.state.addressed_in_revision,
    )


# --------------------------------------------------------------------------- calls


@router.post("/calls", status_code=status.HTTP_201_CREATED, tags=["calls"])
async def create_call(body: CallIn, operator: Operator, uow: Uow) -> CallOut:
    """Open a call; review and awards learn it from its announcement (CallAnnouncedV1)."""
    return _call_out(await workflow.create_call(uow=uow, call=_new_call(body), operator_id=operator.user_id))


@router.patch("/calls/{call_id}", tags=["calls"])
async def change_call(call_id: uuid.UUID, body: CallChangesIn, operator: Operator, uow: Uow) -> CallOut:
    """Change the call's window, description, categories, languages or criteria; announces its next revision."""
    changed = await workflow.change_call(
        uow=uow, call_id=call_id, changes=_call_changes(body), operator_id=operator.user_id
    )
    return _call_out(changed)


@router.get("/calls", tags=["calls"])
async def list_calls(
    _: CurrentUser,
    uow: Uow,
    limit: Limit = 20,
    offset: Offset = 0,
    open_now: Annotated[bool | None, Query(alias="open", description="only calls open for submissions now")] = None,
) -> Page[CallOut]:
    calls, total = await workflow.list_calls(uow=uow, open_now=bool(open_now), limit=limit, offset=offset)
    return Page(items=[_call_out(c) for c in calls], limit=limit, offset=offset, total=total)


@router.get("/calls/{call_id}", tags=["calls"])
async def get_call(call_id: uuid.UUID, _: CurrentUser, uow: Uow) -> CallOut:
    return _call_out(await workflow.get_call(uow=uow, call_id=call_id))


# --------------------------------------------------------------------------- cases


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    tags=["cases"],
    responses={
        200: {"description": "a retry with the same Idempotency-Key: the case first created"},
        409: {
            "description": "the call is closed (`call_closed`), a case with a near-identical title is in the call "
            "already (`duplicate_case`), or the Idempotency-Key was used for another body (`idempotency_key_reused`)"
        },
        429: TOO_MANY_SUBMISSIONS,
    },
    dependencies=[Depends(admit_submission)],
)
async def submit_case(
    body: CaseIn,
    submitter: Submitter,
    uow: Uow,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    submission = await workflow.submit_case(
        uow=uow,
        draft=_case_draft(body, submitter=submitter),
        submitter=submitter,
        idempotency_key=idempotency_key,
    )
    if submission.replayed:
        response.status_code = status.HTTP_200_OK
    return _detail_out(submission.detail)


@router.get("/cases", tags=["cases"])
async def list_cases(
    principal: SubmitterOrOperator,
    uow: Uow,
    limit: Limit = 20,
    offset: Offset = 0,
    call_id: uuid.UUID | None = None,
    status_filter: Annotated[CaseStatus | None, Query(alias="status")] = None,
) -> Page[CaseOut]:
    cases, total = await workflow.list_cases(
        uow=uow, viewer=principal, call_id=call_id, status=status_filter, limit=limit, offset=offset
    )
    return Page(items=[_case_out(c) for c in cases], limit=limit, offset=offset, total=total)


@router.get("/cases/{case_id}", tags=["cases"])
async def get_case(case_id: uuid.UUID, principal: CurrentUser, uow: Uow) -> CaseOut:
    return _detail_out(await workflow.get_case(uow=uow, case_id=case_id, viewer=principal))


@router.get("/cases/{case_id}/feedback", tags=["cases"])
async def case_feedback(case_id: uuid.UUID, principal: CurrentUser, uow: Uow) -> FeedbackPointsOut:
    """The feedback points review asked the submitter to address, each open or addressed by which revision.

    A revision names the points it addresses in ``addresses``. The case's submitter and operators read it.
    """
    points = await workflow.case_feedback(uow=uow, case_id=case_id, viewer=principal)
    return FeedbackPointsOut(
        case_id=case_id,
        open=sum(1 for p in points if p.addressed_in_revision is None),
        items=[_feedback_point_out(p) for p in points],
    )


@router.post(
    "/cases/{case_id}/revisions",
    tags=["cases"],
    responses={
        409: {
            "description": "changes are not requested (`not_revisable`), or the new title is near-identical to "
            "another case's in the call (`duplicate_case`)"
        }
    },
)
async def revise_case(case_id: uuid.UUID, body: RevisionIn, submitter: Submitter, uow: Uow) -> CaseOut:
    detail = await workflow.revise_case(
        uow=uow, case_id=case_id, revision=_revision(body), submitter_id=submitter.user_id
    )
    return _detail_out(detail)


@router.post(
    "/cases/{case_id}/withdraw",
    tags=["cases"],
    responses={409: {"description": "the case is past withdrawal (`not_withdrawable`)"}},
)
async def withdraw_case(case_id: uuid.UUID, submitter: Submitter, uow: Uow, body: WithdrawIn | None = None) -> CaseOut:
    detail = await workflow.withdraw_case(
        uow=uow,
        case_id=case_id,
        reason=body.reason if body is not None else "",
        submitter_id=submitter.user_id,
    )
    return _detail_out(detail)

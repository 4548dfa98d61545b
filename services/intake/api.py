"""Intake's HTTP routes: calls (operators create, everyone reads) and cases (submitters file and revise)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response, status
from pydantic import ValidationError

from services.intake import domain, repository
from services.intake.domain import CaseProgress, CaseStatus, TimelineEntry, TransitionRefused
from services.intake.repository import Call, DuplicateIdempotencyKey, DuplicateTitle, StoredCase
from services.intake.schemas import (
    CallIn,
    CallOut,
    CaseIn,
    CaseOut,
    RevisionIn,
    TimelineItemOut,
    WithdrawIn,
)
from shared import outbox
from shared.auth import CurrentUser, Operator, Principal, Submitter, require_roles
from shared.db import Connection
from shared.events import CaseRevisedV1, CaseSnapshot, CaseSubmittedV1, CaseWithdrawnV1, Contact
from shared.logging import bind_event_context, get_logger
from shared.pagination import Limit, Offset, Page
from shared.service import CorrelationId, Db
from shared.vocabulary import Role

SERVICE = "intake"

log = get_logger(__name__)
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


def _now() -> datetime:
    return datetime.now(UTC)


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
        open=domain.call_is_open(opens_at=call.opens_at, closes_at=call.closes_at, now=_now()),
        created_by=call.created_by,
        created_at=call.created_at,
    )


@router.post("/calls", status_code=status.HTTP_201_CREATED, tags=["calls"])
async def create_call(body: CallIn, operator: Operator, pool: Db) -> CallOut:
    async with pool.acquire() as conn:
        call = await repository.insert_call(
            conn,
            call_id=uuid.uuid4(),
            title=body.title,
            description=body.description,
            opens_at=body.opens_at,
            closes_at=body.closes_at,
            categories=body.categories,
            languages=body.languages,
            reviewers_per_iteration=body.reviewers_per_iteration,
            created_by=operator.user_id,
        )
    log.info("call created", call_id=str(call.id))
    return _call_out(call)


@router.get("/calls", tags=["calls"])
async def list_calls(
    _: CurrentUser,
    pool: Db,
    limit: Limit = 20,
    offset: Offset = 0,
    open_now: Annotated[bool | None, Query(alias="open", description="only calls open for submissions now")] = None,
) -> Page[CallOut]:
    async with pool.acquire() as conn:
        calls, total = await repository.list_calls(
            conn, open_at=_now() if open_now else None, limit=limit, offset=offset
        )
    return Page(items=[_call_out(c) for c in calls], limit=limit, offset=offset, total=total)


@router.get("/calls/{call_id}", tags=["calls"])
async def get_call(call_id: uuid.UUID, _: CurrentUser, pool: Db) -> CallOut:
    async with pool.acquire() as conn:
        call = await repository.get_call(conn, call_id=call_id)
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"call {call_id} does not exist")
    return _call_out(call)


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


async def _full_case(conn: Connection, case: StoredCase) -> CaseOut:
    return _case_out(case, await repository.timeline(conn, case_id=case.id))


def _submitter_contact(principal: Principal) -> Contact:
    """The submitter's contact comes from the token; without a usable email nobody could be notified."""
    if not principal.email:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "error": "submitter_email_missing",
                "message": "your token carries no email address; the submitter contact needs one for notifications",
            },
        )
    try:
        return Contact(name=principal.name or principal.user_id, email=principal.email, language=principal.language)
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "error": "submitter_email_invalid",
                "message": f"the email address in your token ({principal.email!r}) is not valid",
            },
        ) from exc


def _fingerprint(body: CaseIn) -> str:
    """A digest of the validated body: key order and whitespace in the raw request do not matter."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def _idempotent_replay(case: StoredCase, fingerprint: str, key: str) -> None:
    if case.request_fingerprint != fingerprint:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "error": "idempotency_key_reused",
                "message": f"Idempotency-Key {key!r} was already used for case {case.id} with a different request "
                "body; use a new key for a new submission",
            },
        )


def _duplicate_title(existing: StoredCase | None, *, submitter_id: str) -> HTTPException:
    # Naming the other case is only safe when it is the caller's own.
    if existing is not None and existing.submitter_id == submitter_id:
        return HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "error": "duplicate_case",
                "message": f"you already submitted a case with a near-identical title to this call: {existing.id}",
                "existing_case_id": str(existing.id),
            },
        )
    return HTTPException(
        status.HTTP_409_CONFLICT,
        {"error": "duplicate_case", "message": "a case with a near-identical title already exists in this call"},
    )


def _check_call(call: Call | None, body: CaseIn) -> Call:
    if call is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"error": "unknown_call", "message": f"call {body.call_id} does not exist"},
        )
    closed = domain.call_closed_reason(
        call_id=str(call.id), opens_at=call.opens_at, closes_at=call.closes_at, now=_now()
    )
    if closed is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, {"error": "call_closed", "message": closed})
    if body.category not in call.categories:
        allowed = ", ".join(c.value for c in call.categories)
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "error": "category_not_in_call",
                "message": f"category {body.category.value!r} is not one of the call's categories ({allowed})",
            },
        )
    if body.language not in call.languages:
        allowed = ", ".join(lang.value for lang in call.languages)
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "error": "language_not_in_call",
                "message": f"language {body.language.value!r} is not one of the call's languages ({allowed})",
            },
        )
    return call


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
    contact = _submitter_contact(submitter)
    fingerprint = _fingerprint(body)
    case_id = uuid.uuid4()
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            if idempotency_key is not None:
                earlier = await repository.find_by_idempotency_key(
                    conn, submitter_id=submitter.user_id, key=idempotency_key
                )
                if earlier is not None:
                    _idempotent_replay(earlier, fingerprint, idempotency_key)
                    response.status_code = status.HTTP_200_OK
                    log.info("idempotent retry; returning the original case", original_case_id=str(earlier.id))
                    return await _full_case(conn, earlier)
            call = _check_call(await repository.get_call(conn, call_id=body.call_id), body)
            key = domain.title_key(body.title)
            existing = await repository.find_by_title(conn, call_id=call.id, title_key=key)
            if existing is not None:
                raise _duplicate_title(existing, submitter_id=submitter.user_id)
            snapshot = CaseSnapshot(
                case_id=case_id,
                call_id=call.id,
                call_title=call.title,
                revision=1,
                reviewers_per_iteration=call.reviewers_per_iteration,
                title=body.title,
                summary=body.summary,
                problem=body.problem,
                solution=body.solution,
                organisation=body.organisation.organisation(default_id=submitter.organisation_id),
                submitter_id=submitter.user_id,
                submitter=contact,
                team=[c.contact() for c in body.team],
                partners=[c.contact() for c in body.partners],
                category=body.category,
                language=body.language,
                oecd_principles=body.oecd_principles,
                iso_stage=body.iso_stage,
                drivers=body.drivers,
                obstacles=body.obstacles,
            )
            try:
                case = await repository.insert_case(
                    conn,
                    snapshot=snapshot,
                    title_key=key,
                    progress=CaseProgress(status=CaseStatus.SUBMITTED, stage=body.iso_stage),
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                )
            except DuplicateIdempotencyKey:
                # A concurrent request with the same key committed first: answer as its retry.
                assert idempotency_key is not None
                earlier = await repository.find_by_idempotency_key(
                    conn, submitter_id=submitter.user_id, key=idempotency_key
                )
                assert earlier is not None
                _idempotent_replay(earlier, fingerprint, idempotency_key)
                response.status_code = status.HTTP_200_OK
                return await _full_case(conn, earlier)
            except DuplicateTitle:
                existing = await repository.find_by_title(conn, call_id=call.id, title_key=key)
                raise _duplicate_title(existing, submitter_id=submitter.user_id) from None
            await repository.add_timeline_entry(
                conn,
                case_id=case.id,
                entry=TimelineEntry("submitted", f"Submitted to {call.title!r}", None, {"revision": 1}),
            )
            await outbox.emit(
                conn,
                CaseSubmittedV1(case=snapshot),
                service=SERVICE,
                subject=str(case.id),
                correlation_id=correlation_id,
            )
            out = await _full_case(conn, case)
        log.info("case submitted", call_id=str(call.id))
    return out


@router.get("/cases", tags=["cases"])
async def list_cases(
    principal: SubmitterOrOperator,
    pool: Db,
    limit: Limit = 20,
    offset: Offset = 0,
    call_id: uuid.UUID | None = None,
    status_filter: Annotated[CaseStatus | None, Query(alias="status")] = None,
) -> Page[CaseOut]:
    # Operators see every case; a submitter only their own.
    submitter_id = None if principal.has(Role.OPERATOR) else principal.user_id
    async with pool.acquire() as conn:
        cases, total = await repository.list_cases(
            conn, submitter_id=submitter_id, call_id=call_id, status=status_filter, limit=limit, offset=offset
        )
    return Page(items=[_case_out(c) for c in cases], limit=limit, offset=offset, total=total)


def _not_found(case_id: uuid.UUID) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"case {case_id} does not exist")


def _visible(case: StoredCase | None, principal: Principal, *, owner_only: bool = False) -> StoredCase | None:
    """The case if ``principal`` may see it; someone else's case looks exactly like a missing one."""
    if case is None:
        return None
    if case.submitter_id == principal.user_id:
        return case
    if not owner_only and principal.has(Role.OPERATOR):
        return case
    return None


@router.get("/cases/{case_id}", tags=["cases"])
async def get_case(case_id: uuid.UUID, principal: CurrentUser, pool: Db) -> CaseOut:
    async with pool.acquire() as conn:
        case = _visible(await repository.get_case(conn, case_id=case_id), principal)
        if case is None:
            raise _not_found(case_id)
        return await _full_case(conn, case)


@router.post("/cases/{case_id}/revisions", tags=["cases"])
async def revise_case(
    case_id: uuid.UUID, body: RevisionIn, submitter: Submitter, pool: Db, correlation_id: CorrelationId
) -> CaseOut:
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            case = _visible(
                await repository.get_case(conn, case_id=case_id, for_update=True), submitter, owner_only=True
            )
            if case is None:
                raise _not_found(case_id)
            try:
                domain.ensure_revisable(case.progress.status)
            except TransitionRefused as exc:
                raise HTTPException(status.HTTP_409_CONFLICT, {"error": "not_revisable", "message": str(exc)}) from exc
            changes = body.changes()
            snapshot = CaseSnapshot.model_validate(
                {**case.snapshot.model_dump(mode="json"), **changes, "revision": case.revision + 1}
            )
            key = domain.title_key(snapshot.title)
            if "title" in changes:
                other = await repository.find_by_title(conn, call_id=snapshot.call_id, title_key=key, excluding=case.id)
                if other is not None:
                    raise _duplicate_title(other, submitter_id=submitter.user_id)
            try:
                revised = await repository.update_case_content(
                    conn, snapshot=snapshot, title_key=key, status=CaseStatus.REVISED
                )
            except DuplicateTitle:
                raise _duplicate_title(None, submitter_id=submitter.user_id) from None
            await repository.add_timeline_entry(
                conn,
                case_id=case.id,
                entry=TimelineEntry(
                    "revised",
                    f"Revision {snapshot.revision} submitted" + (f": {body.change_note}" if body.change_note else ""),
                    case.progress.iteration or None,
                    {"revision": snapshot.revision, "changed": sorted(changes), "change_note": body.change_note},
                ),
            )
            await outbox.emit(
                conn,
                CaseRevisedV1(case=snapshot, change_note=body.change_note),
                service=SERVICE,
                subject=str(case.id),
                correlation_id=correlation_id,
            )
            out = await _full_case(conn, revised)
        log.info("case revised", revision=snapshot.revision)
    return out


@router.post("/cases/{case_id}/withdraw", tags=["cases"])
async def withdraw_case(
    case_id: uuid.UUID,
    submitter: Submitter,
    pool: Db,
    correlation_id: CorrelationId,
    body: WithdrawIn | None = None,
) -> CaseOut:
    reason = body.reason if body is not None else ""
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            case = _visible(
                await repository.get_case(conn, case_id=case_id, for_update=True), submitter, owner_only=True
            )
            if case is None:
                raise _not_found(case_id)
            try:
                domain.ensure_withdrawable(case.progress.status)
            except TransitionRefused as exc:
                raise HTTPException(
                    status.HTTP_409_CONFLICT, {"error": "not_withdrawable", "message": str(exc)}
                ) from exc
            await repository.save_progress(
                conn, case_id=case.id, progress=replace(case.progress, status=CaseStatus.WITHDRAWN)
            )
            await repository.add_timeline_entry(
                conn,
                case_id=case.id,
                entry=TimelineEntry(
                    "withdrawn",
                    "Withdrawn by the submitter" + (f": {reason}" if reason else ""),
                    None,
                    {"reason": reason},
                ),
            )
            await outbox.emit(
                conn,
                CaseWithdrawnV1(case_id=case.id, call_id=case.snapshot.call_id, reason=reason),
                service=SERVICE,
                subject=str(case.id),
                correlation_id=correlation_id,
            )
            withdrawn = await repository.get_case(conn, case_id=case.id)
            assert withdrawn is not None
            out = await _full_case(conn, withdrawn)
        log.info("case withdrawn")
    return out

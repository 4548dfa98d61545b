"""Intake's use cases: each command or query as one keyword-only function.

A use case for HTTP opens its own connection (and, when it writes, the transaction in which the domain
change, the timeline entry and the outbox event commit together). The Kafka use case runs in the
consumer's transaction instead, which also holds the inbox claim. Rules come from domain.py, SQL from
repository.py; refusals are ``shared.errors`` classes, which shared.service maps to HTTP statuses.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NoReturn

import asyncpg
from pydantic import ValidationError

from services.intake import domain, repository
from services.intake.domain import Call, CaseProgress, CaseStatus, StoredCase
from services.intake.repository import DuplicateIdempotencyKey, DuplicateTitle
from services.intake.schemas import CallIn, CaseIn, RevisionIn
from shared import outbox
from shared.auth import Principal
from shared.db import Connection
from shared.errors import Conflict, Invalid, NotFound
from shared.events import (
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    Contact,
    EventPayload,
)
from shared.logging import bind_event_context, get_logger
from shared.vocabulary import Role

SERVICE = "intake"

log = get_logger(__name__)


@dataclass(frozen=True)
class CaseDetail:
    case: StoredCase
    timeline: list[dict[str, Any]]


@dataclass(frozen=True)
class Submission:
    detail: CaseDetail
    # An Idempotency-Key retry: ``detail`` is the case first created with the key.
    replayed: bool


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- calls


async def create_call(*, pool: asyncpg.Pool, body: CallIn, operator: Principal) -> Call:
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
    return call


async def list_calls(*, pool: asyncpg.Pool, open_now: bool, limit: int, offset: int) -> tuple[list[Call], int]:
    async with pool.acquire() as conn:
        return await repository.list_calls(conn, open_at=_now() if open_now else None, limit=limit, offset=offset)


async def get_call(*, pool: asyncpg.Pool, call_id: uuid.UUID) -> Call:
    async with pool.acquire() as conn:
        call = await repository.get_call(conn, call_id=call_id)
    if call is None:
        raise NotFound(f"call {call_id} does not exist")
    return call


# --------------------------------------------------------------------------- cases


async def submit_case(
    *,
    pool: asyncpg.Pool,
    body: CaseIn,
    submitter: Principal,
    correlation_id: str,
    idempotency_key: str | None,
) -> Submission:
    contact = _submitter_contact(submitter)
    fingerprint = _fingerprint(body)
    case_id = uuid.uuid4()
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            if idempotency_key is not None:
                replay = await _replay(conn, submitter=submitter, key=idempotency_key, fingerprint=fingerprint)
                if replay is not None:
                    return replay
            call = await repository.get_call(conn, call_id=body.call_id)
            if call is None:
                raise Invalid(error="unknown_call", message=f"call {body.call_id} does not exist")
            domain.ensure_fits_call(call, category=body.category, language=body.language, now=_now())
            key = domain.title_key(body.title)
            snapshot = _first_snapshot(body, case_id=case_id, call=call, submitter=submitter, contact=contact)
            try:
                await _ensure_title_free(conn, call_id=call.id, title_key=key, submitter=submitter)
                case = await repository.insert_case(
                    conn,
                    snapshot=snapshot,
                    title_key=key,
                    progress=CaseProgress(status=CaseStatus.SUBMITTED, stage=body.iso_stage),
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                )
            except (DuplicateIdempotencyKey, DuplicateTitle, Conflict) as clash:
                # The title (or the key) may have been taken by a concurrent retry of this very request, which
                # committed after our first look: that is answered as a retry, not refused.
                if idempotency_key is not None:
                    replay = await _replay(conn, submitter=submitter, key=idempotency_key, fingerprint=fingerprint)
                    if replay is not None:
                        return replay
                if isinstance(clash, DuplicateTitle):
                    await _title_taken(conn, call_id=call.id, title_key=key, submitter=submitter)
                raise
            await repository.add_timeline_entry(
                conn, case_id=case.id, entry=domain.submitted_entry(call_title=call.title)
            )
            await _emit(conn, CaseSubmittedV1(case=snapshot), case_id=case.id, correlation_id=correlation_id)
            detail = await _detail(conn, case)
        log.info("case submitted", call_id=str(call.id))
    return Submission(detail, replayed=False)


async def list_cases(
    *,
    pool: asyncpg.Pool,
    principal: Principal,
    call_id: uuid.UUID | None,
    status: CaseStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[StoredCase], int]:
    # Operators see every case; a submitter only their own.
    submitter_id = None if principal.has(Role.OPERATOR) else principal.user_id
    async with pool.acquire() as conn:
        return await repository.list_cases(
            conn, submitter_id=submitter_id, call_id=call_id, status=status, limit=limit, offset=offset
        )


async def get_case(*, pool: asyncpg.Pool, case_id: uuid.UUID, principal: Principal) -> CaseDetail:
    async with pool.acquire() as conn:
        return await _detail(conn, await _visible_case(conn, case_id=case_id, principal=principal))


async def revise_case(
    *, pool: asyncpg.Pool, case_id: uuid.UUID, body: RevisionIn, submitter: Principal, correlation_id: str
) -> CaseDetail:
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            case = await _visible_case(conn, case_id=case_id, principal=submitter, to_change=True)
            domain.ensure_revisable(case.progress.status)
            changes = body.changes()
            snapshot = domain.revised_snapshot(case.snapshot, changes)
            key = domain.title_key(snapshot.title)
            if "title" in changes:
                await _ensure_title_free(
                    conn, call_id=snapshot.call_id, title_key=key, submitter=submitter, excluding=case.id
                )
            try:
                revised = await repository.update_case_content(
                    conn, snapshot=snapshot, title_key=key, status=CaseStatus.REVISED
                )
            except DuplicateTitle:
                await _title_taken(
                    conn, call_id=snapshot.call_id, title_key=key, submitter=submitter, excluding=case.id
                )
            entry = domain.revised_entry(
                revision=snapshot.revision,
                changed=changes,
                change_note=body.change_note,
                iteration=case.progress.iteration,
            )
            await repository.add_timeline_entry(conn, case_id=case.id, entry=entry)
            await _emit(
                conn,
                CaseRevisedV1(case=snapshot, change_note=body.change_note),
                case_id=case.id,
                correlation_id=correlation_id,
            )
            detail = await _detail(conn, revised)
        log.info("case revised", revision=snapshot.revision)
    return detail


async def withdraw_case(
    *, pool: asyncpg.Pool, case_id: uuid.UUID, reason: str, submitter: Principal, correlation_id: str
) -> CaseDetail:
    with bind_event_context(case_id=str(case_id), correlation_id=correlation_id):
        async with pool.acquire() as conn, conn.transaction():
            case = await _visible_case(conn, case_id=case_id, principal=submitter, to_change=True)
            domain.ensure_withdrawable(case.progress.status)
            withdrawn = await repository.save_progress(
                conn, case_id=case.id, progress=replace(case.progress, status=CaseStatus.WITHDRAWN)
            )
            await repository.add_timeline_entry(conn, case_id=case.id, entry=domain.withdrawn_entry(reason=reason))
            await _emit(
                conn,
                CaseWithdrawnV1(case_id=case.id, call_id=case.snapshot.call_id, reason=reason),
                case_id=case.id,
                correlation_id=correlation_id,
            )
            detail = await _detail(conn, withdrawn)
        log.info("case withdrawn")
    return detail


# --------------------------------------------------------------------------- review and awards events


async def track_event(
    *, conn: Connection, payload: EventPayload, case_id: uuid.UUID, at: datetime, event_id: uuid.UUID
) -> None:
    """Apply one review or awards event to the case's progress and timeline."""
    case = await repository.get_case(conn, case_id=case_id, for_update=True)
    if case is None:
        # Another intake's case, or one from before a reset: nothing to track, and not a failure.
        log.warning("event for a case intake does not know; ignored", event_type=payload.event_type)
        return
    transition = domain.apply_event(case.progress, payload)
    if transition.applied:
        if transition.progress != case.progress:
            await repository.save_progress(conn, case_id=case_id, progress=transition.progress)
    else:
        log.info(
            "late event; recorded in the timeline without changing the status",
            event_type=payload.event_type,
            status=case.progress.status.value,
        )
    await repository.add_timeline_entry(conn, case_id=case_id, entry=transition.entry, at=at, event_id=event_id)


# --------------------------------------------------------------------------- helpers


async def _detail(conn: Connection, case: StoredCase) -> CaseDetail:
    return CaseDetail(case, await repository.timeline(conn, case_id=case.id))


async def _visible_case(
    conn: Connection, *, case_id: uuid.UUID, principal: Principal, to_change: bool = False
) -> StoredCase:
    """The case if ``principal`` may see it (or, with ``to_change``, change it: the owner only, row locked).

    Someone else's case looks exactly like a missing one.
    """
    case = await repository.get_case(conn, case_id=case_id, for_update=to_change)
    if case is not None and (
        case.submitter_id == principal.user_id or (not to_change and principal.has(Role.OPERATOR))
    ):
        return case
    raise NotFound(f"case {case_id} does not exist")


def _submitter_contact(principal: Principal) -> Contact:
    """The submitter's contact comes from the token; without a usable email nobody could be notified."""
    if not principal.email:
        raise Invalid(
            error="submitter_email_missing",
            message="your token carries no email address; the submitter contact needs one for notifications",
        )
    try:
        return Contact(name=principal.name or principal.user_id, email=principal.email, language=principal.language)
    except ValidationError as exc:
        raise Invalid(
            error="submitter_email_invalid",
            message=f"the email address in your token ({principal.email!r}) is not valid",
        ) from exc


def _fingerprint(body: CaseIn) -> str:
    """A digest of the validated body: key order and whitespace in the raw request do not matter."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def _replay(conn: Connection, *, submitter: Principal, key: str, fingerprint: str) -> Submission | None:
    """The answer to a retry: the case this submitter first created with ``key``; None when the key is new."""
    earlier = await repository.find_by_idempotency_key(conn, submitter_id=submitter.user_id, key=key)
    if earlier is None:
        return None
    domain.ensure_same_request(earlier, fingerprint=fingerprint, key=key)
    log.info("idempotent retry; returning the original case", original_case_id=str(earlier.id))
    return Submission(await _detail(conn, earlier), replayed=True)


async def _ensure_title_free(
    conn: Connection,
    *,
    call_id: uuid.UUID,
    title_key: str,
    submitter: Principal,
    excluding: uuid.UUID | None = None,
) -> None:
    other = await repository.find_by_title(conn, call_id=call_id, title_key=title_key, excluding=excluding)
    if other is not None:
        raise domain.duplicate_title(other, submitter_id=submitter.user_id)


async def _title_taken(
    conn: Connection,
    *,
    call_id: uuid.UUID,
    title_key: str,
    submitter: Principal,
    excluding: uuid.UUID | None = None,
) -> NoReturn:
    """Refuse a write the title index turned down: a concurrent request took the title after the check."""
    await _ensure_title_free(conn, call_id=call_id, title_key=title_key, submitter=submitter, excluding=excluding)
    raise domain.duplicate_title(None, submitter_id=submitter.user_id)


def _first_snapshot(
    body: CaseIn, *, case_id: uuid.UUID, call: Call, submitter: Principal, contact: Contact
) -> CaseSnapshot:
    return CaseSnapshot(
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


async def _emit(conn: Connection, payload: EventPayload, *, case_id: uuid.UUID, correlation_id: str) -> None:
    """Queue one of intake's own events in this transaction's outbox, keyed by the case."""
    await outbox.emit(conn, payload, service=SERVICE, subject=str(case_id), correlation_id=correlation_id)

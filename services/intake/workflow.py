"""Intake's use cases: each command and query of the API and the Kafka handler, one unit of work each.

Every use case is a keyword-only function that takes a ``UnitOfWork[IntakeRepository]`` and plain
values or commands (domain.py): it opens the unit of work, reads and writes through ``uow.repo``,
asks domain.py for the rules, emits its events with ``uow.emit`` and commits, so the domain change,
the timeline entry and the event commit together. The same shape serves a request (the unit of work
is a transaction) and an event (a savepoint in the consumer's transaction, which holds the inbox
claim). Refusals are ``shared.errors``; shared/http_errors.py maps them to HTTP in one place.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.intake import domain
from services.intake.domain import (
    Call,
    CallChanges,
    CaseDraft,
    CaseProgress,
    CaseStatus,
    FeedbackPoint,
    FunnelStage,
    NewCall,
    Revision,
    StoredCase,
    TimelineItem,
    TrackedEvent,
    Viewer,
)
from services.intake.repository import DuplicateIdempotencyKey, DuplicateTitle, IntakeRepository
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotFound
from shared.events import CaseRevisedV1, CaseSnapshot, CaseSubmittedV1, CaseWithdrawnV1
from shared.glance import Glance, Word
from shared.logging import bind_event_context, get_logger
from shared.uow import UnitOfWork
from shared.vocabulary import Role

log = get_logger(__name__)

Uow = UnitOfWork[IntakeRepository]


@dataclass(frozen=True)
class CaseDetail:
    case: StoredCase
    timeline: list[TimelineItem]


@dataclass(frozen=True)
class Submission:
    detail: CaseDetail
    # An Idempotency-Key retry: ``detail`` is the case first created with the key.
    replayed: bool


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- steps shared by the use cases


async def _detail(repo: IntakeRepository, case: StoredCase, viewer: Viewer) -> CaseDetail:
    """The case and its timeline as ``viewer`` may see them (domain.seen_by: the embargo on decisions)."""
    shown, timeline = domain.seen_by(viewer, case, await repo.timeline(case.id))
    return CaseDetail(shown, timeline)


async def _visible_case(repo: IntakeRepository, *, case_id: uuid.UUID, viewer: Principal) -> StoredCase:
    """The case if ``viewer`` may see it: their own, or any for an operator.

    Someone else's case looks exactly like a missing one.
    """
    case = await repo.get_case(case_id)
    if case is None or not (case.submitter_id == viewer.user_id or viewer.has(Role.OPERATOR)):
        raise NotFound(f"case {case_id} does not exist")
    return case


async def _own_case(repo: IntakeRepository, *, case_id: uuid.UUID, submitter_id: str) -> StoredCase:
    """The case, row locked, if ``submitter_id`` owns it: only the owner changes a case (operators too are
    told it does not exist)."""
    case = await repo.get_case(case_id, for_update=True)
    if case is None or case.submitter_id != submitter_id:
        raise NotFound(f"case {case_id} does not exist")
    return case


async def _replay(repo: IntakeRepository, *, submitter_id: str, key: str, fingerprint: str) -> Submission | None:
    """The answer to a retry: the case this submitter first created with ``key``; None when the key is new."""
    earlier = await repo.find_by_idempotency_key(submitter_id=submitter_id, key=key)
    if earlier is None:
        return None
    domain.ensure_same_request(earlier, fingerprint=fingerprint, key=key)
    log.info("idempotent retry; returning the original case", original_case_id=str(earlier.id))
    return Submission(await _detail(repo, earlier, Viewer.SUBMITTER), replayed=True)


async def _ensure_title_free(
    repo: IntakeRepository, *, snapshot: CaseSnapshot, title_key: str, excluding: uuid.UUID | None = None
) -> None:
    """Refuse the title when another live case of the same call and organisation holds it."""
    other = await repo.find_by_title(
        call_id=snapshot.call_id,
        organisation_id=snapshot.organisation.id,
        title_key=title_key,
        excluding=excluding,
    )
    domain.ensure_title_free(other, submitter_id=snapshot.submitter_id)


async def _title_taken(
    repo: IntakeRepository, *, snapshot: CaseSnapshot, title_key: str, excluding: uuid.UUID | None = None
) -> Conflict:
    """The refusal of a write the title index turned down: a concurrent request took the title after the check.

    Looked up again so that the caller's own case is named, as the check would have.
    """
    other = await repo.find_by_title(
        call_id=snapshot.call_id,
        organisation_id=snapshot.organisation.id,
        title_key=title_key,
        excluding=excluding,
    )
    return domain.duplicate_title(other, submitter_id=snapshot.submitter_id)


# --------------------------------------------------------------------------- calls


async def create_call(*, uow: Uow, call: NewCall, operator_id: str) -> Call:
    """Open a new call; announces it (CallAnnouncedV1, revision 1) so review and awards learn it."""
    domain.ensure_usable_criteria(call.criteria)
    async with uow:
        created = await uow.repo.insert_call(call_id=uuid.uuid4(), call=call, created_by=operator_id)
        await uow.emit(domain.call_announcement(created))
        await uow.commit()
    log.info("call created", call_id=str(created.id), criteria=[c.key for c in created.criteria])
    return created


async def change_call(*, uow: Uow, call_id: uuid.UUID, changes: CallChanges, operator_id: str) -> Call:
    """Change a call's window, description, categories, languages or criteria; announces its next revision.

    The row lock orders concurrent changes, so revisions and their announcements leave in the same order.
    """
    async with uow:
        call = await uow.repo.get_call(call_id, for_update=True)
        if call is None:
            raise NotFound(f"call {call_id} does not exist")
        changed = await uow.repo.update_call(domain.changed_call(call, changes))
        await uow.emit(domain.call_announcement(changed))
        await uow.commit()
    log.info(
        "call changed",
        call_id=str(call_id),
        revision=changed.revision,
        changed=sorted(changes.edited()),
        operator_id=operator_id,
    )
    return changed


async def announce_unannounced_call(*, uow: Uow) -> bool:
    """Announce one call that was never announced (created before intake announced calls); False when none is left.

    The announcement is of the call's current revision, so a reader that knows it already ignores it.
    """
    async with uow:
        call = await uow.repo.claim_unannounced_call()
        if call is None:
            return False
        await uow.emit(domain.call_announcement(call))
        await uow.repo.mark_announced(call.id)
        await uow.commit()
    log.info("call announced", call_id=str(call.id), revision=call.revision)
    return True


async def list_calls(*, uow: Uow, open_now: bool, limit: int, offset: int) -> tuple[list[Call], int]:
    async with uow:
        return await uow.repo.list_calls(open_at=_now() if open_now else None, limit=limit, offset=offset)


async def get_call(*, uow: Uow, call_id: uuid.UUID) -> Call:
    async with uow:
        call = await uow.repo.get_call(call_id)
    if call is None:
        raise NotFound(f"call {call_id} does not exist")
    return call


# --------------------------------------------------------------------------- cases


async def submit_case(*, uow: Uow, draft: CaseDraft, submitter: Principal, idempotency_key: str | None) -> Submission:
    """File a new case to an open call; emits CaseSubmittedV1.

    With an Idempotency-Key, a retry of the same submission is answered with the case it first created
    (``replayed``), even when the retry raced the original and lost at the unique indexes.

    The title is not looked up first: the unique index refuses a near-identical one, and the refusal then looks
    the other case up to word the same answer. The answer is built from what was inserted, not read back.
    """
    submitter_id = submitter.user_id
    domain.ensure_own_organisation(draft.organisation, token_organisation=submitter.organisation_id)
    contact = domain.submitter_contact(
        user_id=submitter_id, name=submitter.name, email=submitter.email, language=submitter.language
    )
    fingerprint = domain.request_fingerprint(draft)
    case_id = uuid.uuid4()
    with bind_event_context(case_id=str(case_id), correlation_id=uow.origin.correlation_id):
        async with uow:
            repo = uow.repo
            if idempotency_key is not None:
                replay = await _replay(repo, submitter_id=submitter_id, key=idempotency_key, fingerprint=fingerprint)
                if replay is not None:
                    return replay
            call = await repo.get_call(draft.call_id)
            if call is None:
                raise Invalid(error="unknown_call", message=f"call {draft.call_id} does not exist")
            domain.ensure_fits_call(call, category=draft.category, language=draft.language, now=_now())
            key = domain.title_key(draft.title)
            snapshot = domain.first_snapshot(
                draft, case_id=case_id, call=call, submitter_id=submitter_id, submitter=contact
            )
            entry = domain.submitted_entry(call_title=call.title)
            try:
                # The case, its first status and this timeline entry, at the case's creation.
                case = await repo.insert_case(
                    snapshot=snapshot,
                    title_key=key,
                    progress=CaseProgress(status=CaseStatus.SUBMITTED, stage=draft.iso_stage),
                    entry=entry,
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                )
            except (DuplicateIdempotencyKey, DuplicateTitle) as clash:
                # The title (or the key) may have been taken by a concurrent retry of this very request, which
                # committed after our first look: that is answered as a retry, not refused.
                if idempotency_key is not None:
                    replay = await _replay(
                        repo, submitter_id=submitter_id, key=idempotency_key, fingerprint=fingerprint
                    )
                    if replay is not None:
                        return replay
                if isinstance(clash, DuplicateTitle):
                    raise await _title_taken(repo, snapshot=snapshot, title_key=key) from clash
                raise
            # The answer's timeline is the one entry, recorded at the case's creation: built here, not read back.
            await uow.emit(CaseSubmittedV1(case=snapshot))
            shown, timeline = domain.seen_by(Viewer.SUBMITTER, case, [entry.item(at=case.created_at)])
            await uow.commit()
        detail = CaseDetail(shown, timeline)
        log.info("case submitted", call_id=str(call.id))
    return Submission(detail, replayed=False)


async def list_cases(
    *,
    uow: Uow,
    viewer: Principal,
    call_id: uuid.UUID | None,
    status: CaseStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[StoredCase], int]:
    # Operators see every case; a submitter only their own, and filtered by the status they are shown.
    seen_as = domain.viewer_of(viewer.roles)
    submitter_id = None if seen_as is Viewer.OPERATOR else viewer.user_id
    statuses = domain.statuses_shown_as(seen_as, status) if status is not None else None
    async with uow:
        cases, total = await uow.repo.list_cases(
            submitter_id=submitter_id, call_id=call_id, statuses=statuses, limit=limit, offset=offset
        )
    return [domain.seen_by(seen_as, case)[0] for case in cases], total


async def get_case(*, uow: Uow, case_id: uuid.UUID, viewer: Principal) -> CaseDetail:
    async with uow:
        case = await _visible_case(uow.repo, case_id=case_id, viewer=viewer)
        return await _detail(uow.repo, case, domain.viewer_of(viewer.roles))


async def case_feedback(*, uow: Uow, case_id: uuid.UUID, viewer: Principal) -> list[FeedbackPoint]:
    """The points review asked the case's submitter to address, open or addressed (by which revision)."""
    async with uow:
        case = await _visible_case(uow.repo, case_id=case_id, viewer=viewer)
        return await uow.repo.feedback_points(case.id)


async def revise_case(*, uow: Uow, case_id: uuid.UUID, revision: Revision, submitter_id: str) -> CaseDetail:
    """The submitter's next revision, once changes are requested; emits CaseRevisedV1.

    The revision may name open feedback points of the case that it addresses; any other id is refused (422).
    """
    with bind_event_context(case_id=str(case_id), correlation_id=uow.origin.correlation_id):
        async with uow:
            repo = uow.repo
            case = await _own_case(repo, case_id=case_id, submitter_id=submitter_id)
            domain.ensure_revisable(case.progress.status)
            domain.ensure_open_points(revision.addresses, await repo.feedback_points(case.id))
            snapshot = domain.revised_snapshot(case.snapshot, revision.changes)
            key = domain.title_key(snapshot.title)
            if revision.changes.title is not None:
                await _ensure_title_free(repo, snapshot=snapshot, title_key=key, excluding=case.id)
            try:
                revised = await repo.update_case_content(snapshot=snapshot, title_key=key, status=CaseStatus.REVISED)
            except DuplicateTitle as clash:
                raise await _title_taken(repo, snapshot=snapshot, title_key=key, excluding=case.id) from clash
            entry = domain.revised_entry(
                revision=snapshot.revision,
                changed=revision.changes.edited(),
                change_note=revision.change_note,
                iteration=case.progress.iteration,
            )
            await repo.add_timeline_entry(case_id=case.id, entry=entry)
            await repo.mark_points_addressed(case_id=case.id, point_ids=revision.addresses, revision=snapshot.revision)
            addressed = list(revision.addresses)
            await uow.emit(CaseRevisedV1(case=snapshot, change_note=revision.change_note, addressed_points=addressed))
            detail = await _detail(repo, revised, Viewer.SUBMITTER)
            await uow.commit()
        log.info("case revised", revision=snapshot.revision)
    return detail


async def withdraw_case(*, uow: Uow, case_id: uuid.UUID, reason: str, submitter_id: str) -> CaseDetail:
    """The submitter takes their case back, unless it is already final; emits CaseWithdrawnV1."""
    with bind_event_context(case_id=str(case_id), correlation_id=uow.origin.correlation_id):
        async with uow:
            repo = uow.repo
            case = await _own_case(repo, case_id=case_id, submitter_id=submitter_id)
            domain.ensure_withdrawable(case.progress.status)
            withdrawn = await repo.save_progress(
                case_id=case.id, progress=replace(case.progress, status=CaseStatus.WITHDRAWN)
            )
            await repo.add_timeline_entry(case_id=case.id, entry=domain.withdrawn_entry(reason=reason))
            await uow.emit(CaseWithdrawnV1(case_id=case.id, call_id=case.snapshot.call_id, reason=reason))
            detail = await _detail(repo, withdrawn, Viewer.SUBMITTER)
            await uow.commit()
        log.info("case withdrawn")
    return detail


# --------------------------------------------------------------------------- review and awards events


async def track_event(*, uow: Uow, payload: TrackedEvent, at: datetime, event_id: uuid.UUID) -> None:
    """Apply one review or awards event to the case's progress and timeline (once per event id)."""
    case_id = payload.case_id
    async with uow:
        repo = uow.repo
        progress = await repo.get_progress(case_id, for_update=True)
        if progress is None:
            # Another intake's case, or one from before a reset: nothing to track, and not a failure.
            log.warning("event for a case intake does not know; ignored", event_type=payload.event_type)
            return
        transition = domain.apply_event(progress, payload)
        if transition.applied:
            if transition.progress != progress:
                await repo.store_progress(case_id=case_id, progress=transition.progress, at=at)
        else:
            log.info(
                "late event; recorded in the timeline without changing the status",
                event_type=payload.event_type,
                status=progress.status.value,
            )
        await repo.add_timeline_entry(case_id=case_id, entry=transition.entry, at=at, event_id=event_id)
        # Kept even from a late event: a revision may name only points intake knows of.
        await repo.add_feedback_points(case_id=case_id, points=domain.points_raised(payload, at=at))
        await uow.commit()


async def at_a_glance(*, uow: UnitOfWork[IntakeRepository], now: datetime | None = None) -> list[Glance]:
    """The operator dashboard's domain section: the funnel per call (how many cases are in each stage now, in the
    funnel's order) and the time cases spend in each stage they leave again, up to ``now``."""
    async with uow:
        funnel = await uow.repo.funnel()
        times = await uow.repo.time_in_stage(stages=domain.TIMED_STAGES, now=now or datetime.now(UTC))
    stages = list(FunnelStage)
    per_call: dict[uuid.UUID, tuple[str, Counter[FunnelStage]]] = {}
    for f in funnel:  # newest call first
        per_call.setdefault(f.call_id, (f.call_title, Counter()))[1][domain.FUNNEL_STAGE[f.status]] += f.cases
    return [
        Glance(
            caption="glance_funnel",
            columns=("glance_call", *(f"sub.status.{stage}" for stage in stages)),
            rows=[(title, *(counts[stage] for stage in stages)) for title, counts in per_call.values()],
            test_id="funnel",
        ),
        Glance(
            caption="glance_time_in_stage",
            columns=(
                "glance_call",
                "glance_stage",
                "glance_moved_on",
                "glance_median",
                "glance_longest",
                "glance_waiting",
                "glance_longest_waiting",
            ),
            rows=[
                (
                    t.call_title,
                    Word(f"sub.status.{t.stage}"),
                    t.moved_on,
                    t.median,
                    t.longest,
                    t.waiting,
                    t.longest_waiting,
                )
                for t in times
            ],
            test_id="time-in-stage",
        ),
    ]

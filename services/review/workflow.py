"""Review's use cases: each request, case event and escalation round, one unit of work each.

Every use case is a keyword-only function that takes a ``UnitOfWork[ReviewRepository]`` and plain
values or command objects (``Verdict``): it opens the unit of work, reads and writes through
``uow.repo``, asks domain.py for the rules, emits its events with ``uow.emit`` and commits. The same
function serves a request or the escalation job (the unit of work is a transaction) and an event (a
savepoint in the consumer's transaction). Refusals are ``shared.errors``; shared/http_errors.py maps
them to HTTP in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from services.review import domain
from services.review.domain import (
    Decision,
    FeedbackPoint,
    IterationRecord,
    Reader,
    ReminderWindows,
    ReviewedCase,
    ReviewStatus,
    RevisionNote,
    Task,
    TaskStatus,
    Verdict,
)
from services.review.repository import ClaimRaced, HeldTaskRow, ReviewRepository
from shared import tracing
from shared.auth import Principal
from shared.errors import NotFound
from shared.events import CallAnnouncedV1, CaseSnapshot, IterationEscalatedV1, IterationOpenedV1, TaskDueSoonV1
from shared.glance import Glance
from shared.logging import bind_event_context, get_logger
from shared.uow import UnitOfWork
from shared.vocabulary import IsoStage, Role

log = get_logger(__name__)

Uow = UnitOfWork[ReviewRepository]

# A claim may lose a race against the same reviewer's concurrent claim (four-eyes index); try again a few times.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class DecisionResult:
    """What a decision did: the iteration's outcome if it settled, and where the case stands now."""

    task_id: uuid.UUID
    case_id: uuid.UUID
    iteration: int
    decision: Decision
    outcome: Decision | None  # None while a four-eyes iteration waits for its second reviewer
    review_status: ReviewStatus
    stage: IsoStage
    next_iteration: int | None


@dataclass(frozen=True)
class CaseHistory:
    """A page of a case's iterations as the viewer may see them, with all the case's feedback points and revisions."""

    case: ReviewedCase
    iterations: list[IterationRecord]  # one page
    points: list[FeedbackPoint]  # every point of the case, with its state
    revisions: list[RevisionNote]
    total: int


@dataclass(frozen=True)
class TaskBrief:
    """A task with what its reviewer reads before deciding: the case's earlier iterations, their feedback points
    (which remain open) and the revisions since. Never the other four-eyes slot of the same iteration."""

    task: Task
    earlier: list[IterationRecord]
    points: list[FeedbackPoint]
    revisions: list[RevisionNote]


# --------------------------------------------------------------------------- tasks (HTTP)


async def claim_task(*, uow: Uow, reviewer: Principal, lease: timedelta) -> TaskBrief | None:
    """Claim the available task due first for ``reviewer``, with its brief; None when nothing is available.

    The reviewer's name, email and language (their token's identity claims) are recorded with the claim: what
    review's messages to them carry (reminders, answered changes; docs/people.md).
    """
    person = domain.reviewer_person(
        user_id=reviewer.user_id, name=reviewer.name, email=reviewer.email, language=reviewer.language
    )
    brief = None
    for attempt in range(1, _CLAIM_ATTEMPTS + 1):
        try:
            async with uow:
                task = await uow.repo.claim_next_task(
                    reviewer=person, reviewer_organisation=reviewer.organisation_id, lease=lease
                )
                brief = await _brief(uow.repo, task) if task is not None else None
                await uow.commit()
            break
        except ClaimRaced:
            log.info("claim lost a four-eyes race; retrying", attempt=attempt)
    if brief is not None:
        task = brief.task
        with bind_event_context(case_id=str(task.case_id), correlation_id=uow.origin.correlation_id):
            log.info("task claimed", task_id=str(task.task_id), iteration=task.iteration, reviewer=reviewer.user_id)
    return brief


async def held_tasks(*, uow: Uow, reviewer: Principal) -> list[HeldTaskRow]:
    """The tasks ``reviewer`` holds now (claimed by them, a lease run out included), due first."""
    async with uow:
        return await uow.repo.held_tasks(reviewer.user_id)


async def get_task(*, uow: Uow, task_id: uuid.UUID, viewer: Principal) -> TaskBrief:
    """A task with its brief, for the reviewer who holds it or an operator."""
    async with uow:
        task = await uow.repo.get_task(task_id)
        if task is None or not (viewer.has(Role.OPERATOR) or _holds(task, viewer)):
            raise _no_task(task_id)
        return await _brief(uow.repo, task)


async def release_task(*, uow: Uow, task_id: uuid.UUID, reviewer: Principal) -> TaskBrief:
    """Give a claimed task back to the queue; returns the released task."""
    async with uow:
        task = await _held_task(uow.repo, task_id=task_id, reviewer=reviewer, for_update=True)
        domain.ensure_releasable(task.status)
        await uow.repo.release_task(task_id)
        released = await uow.repo.get_task(task_id)
        assert released is not None
        brief = await _brief(uow.repo, released)
        await uow.commit()
    with bind_event_context(case_id=str(task.case_id), correlation_id=uow.origin.correlation_id):
        log.info("task released", task_id=str(task_id))
    return brief


async def decide_task(
    *, uow: Uow, task_id: uuid.UUID, reviewer: Principal, verdict: Verdict, timebox: timedelta
) -> DecisionResult:
    """Record a reviewer's decision; once all the iteration's reviewers decided, settle the iteration.

    Settling closes the iteration, moves the case on and announces the outcome; an advanced stage opens
    the next iteration in the same unit of work.
    """
    async with uow:
        repo = uow.repo
        found = await _held_task(repo, task_id=task_id, reviewer=reviewer)
        with bind_event_context(case_id=str(found.case_id), correlation_id=uow.origin.correlation_id):
            # Lock the case first: the decisions of one case (both four-eyes slots) settle one after the other.
            # Then read the task again under the lock: it may have changed hands in between.
            await repo.get_case(found.case_id, for_update=True)
            task = await _held_task(repo, task_id=task_id, reviewer=reviewer, for_update=True)
            result = await _decide(uow, task=task, reviewer=reviewer, verdict=verdict, timebox=timebox)
            await uow.commit()
    return result


async def _decide(uow: Uow, *, task: Task, reviewer: Principal, verdict: Verdict, timebox: timedelta) -> DecisionResult:
    repo = uow.repo
    case = task.case
    domain.ensure_decidable(task_status=task.status, lease_expired=task.lease_expired)
    domain.ensure_no_conflict_of_interest(
        case_organisation=case.organisation_id, reviewer_organisation=reviewer.organisation_id
    )
    domain.ensure_decision(review_status=case.status, stage=task.stage, decision=verdict.decision)
    domain.ensure_feedback(task.stage, (f.checklist_item for f in verdict.feedback))
    await repo.record_decision(task_id=task.task_id, verdict=verdict)

    slots = await repo.tasks_of_iterations(case.case_id, iterations=[task.iteration])
    decisions = [d.decision for d in (s.reviewer_decision() for s in slots) if d is not None]
    outcome = domain.resolve(decisions, required=len(slots))
    if outcome is Decision.REQUEST_CHANGES:
        # The unmet items become points the submitter is asked to address; the event carries their ids.
        slots = domain.number_points(slots)
        for slot in slots:
            await repo.set_feedback(task_id=slot.task_id, feedback=slot.feedback)
    decided = [d for d in (s.reviewer_decision() for s in slots) if d is not None]
    log.info("review decision recorded", task_id=str(task.task_id), decision=str(verdict.decision), outcome=outcome)
    recorded = DecisionResult(
        task_id=task.task_id,
        case_id=case.case_id,
        iteration=task.iteration,
        decision=verdict.decision,
        outcome=None,
        review_status=case.status,
        stage=task.stage,
        next_iteration=None,
    )
    if outcome is None:  # four-eyes: waiting for the other reviewer
        return recorded

    effect = domain.outcome_of(outcome, stage=task.stage)
    await repo.close_iteration(
        case_id=case.case_id, iteration=task.iteration, status=effect.iteration_status, outcome=outcome
    )
    await repo.set_case_status(case_id=case.case_id, status=effect.review_status, stage=effect.next_stage)
    await uow.emit(
        domain.settled_event(outcome, case=case.header, iteration=task.iteration, stage=task.stage, decisions=decided)
    )
    stage = effect.next_stage or task.stage
    next_iteration = None
    if effect.opens_next_iteration:
        next_iteration = await _open_iteration(
            uow,
            case_id=case.case_id,
            call_id=case.call_id,
            stage=stage,
            revision=case.revision,
            reviewers=case.reviewers_per_iteration,
            timebox=timebox,
        )
    log.info(
        "iteration settled", iteration=task.iteration, outcome=str(outcome), review_status=str(effect.review_status)
    )
    return replace(
        recorded, outcome=outcome, review_status=effect.review_status, stage=stage, next_iteration=next_iteration
    )


# --------------------------------------------------------------------------- operators and history (HTTP)


async def list_queue(*, uow: Uow, status: TaskStatus | None, limit: int, offset: int) -> tuple[list[Task], int]:
    """All review tasks, due first; returns one page and the total."""
    async with uow:
        return await uow.repo.list_tasks(status=status, limit=limit, offset=offset)


async def case_history(*, uow: Uow, case_id: uuid.UUID, viewer: Principal, limit: int, offset: int) -> CaseHistory:
    """A page of a case's iterations, as the viewer may see them, with the case's feedback points and revisions.

    Operators and reviewers (not of the case's organisation) see every reviewer's decision; the case's own
    submitter sees each settled iteration's reasons and feedback. Anyone else is told the case does not exist.
    """
    async with uow:
        repo = uow.repo
        case = await repo.get_case(case_id)
        reader = (
            None
            if case is None
            else domain.history_reader(
                roles=viewer.roles, user_id=viewer.user_id, organisation_id=viewer.organisation_id, case=case
            )
        )
        if case is None or reader is None:
            raise NotFound(f"no case {case_id}")
        total = await repo.count_iterations(case_id)
        iterations = await repo.list_iterations(case_id, limit=limit, offset=offset)
        slots = await repo.tasks_of_case(case_id)
        revisions = await repo.revisions(case_id)
    return CaseHistory(
        case=case,
        iterations=domain.iteration_records(iterations, slots, reader=reader),
        points=domain.feedback_points(slots, revisions),
        revisions=revisions,
        total=total,
    )


# --------------------------------------------------------------------------- intake's case events


async def case_submitted(*, uow: Uow, case: CaseSnapshot, timebox: timedelta) -> None:
    """Store the case and open its first iteration; a case already known is left as it is."""
    async with uow:
        if not await _start_review(uow, case=case, timebox=timebox):
            log.warning("case already known; submission ignored")
            return
        await uow.commit()


async def case_revised(
    *,
    uow: Uow,
    case: CaseSnapshot,
    timebox: timedelta,
    change_note: str = "",
    addressed_points: Sequence[uuid.UUID] = (),
) -> None:
    """Take the revised snapshot and keep which feedback points it addresses; after requested changes, open the
    next iteration at review's stage.

    A revision new to review that answers an iteration settled with "request changes" (the latest settled one)
    tells that iteration's reviewers (``ChangesAnsweredV1``), in the same unit of work.
    """
    async with uow:
        repo = uow.repo
        stored = await repo.get_case(case.case_id, for_update=True)
        if stored is None:
            # Events of one case keep their order, so this means the submission was lost upstream:
            # review the case from what the revision tells.
            log.warning("revision of an unknown case; reviewing it as a new submission", revision=case.revision)
            await _start_review(uow, case=case, timebox=timebox)
            await repo.record_revision(
                case_id=case.case_id,
                revision=case.revision,
                change_note=change_note,
                addressed_points=addressed_points,
            )
            await uow.commit()
            return
        if case.revision < stored.revision:
            log.warning("stale revision ignored", revision=case.revision, stored_revision=stored.revision)
            return
        if await repo.record_revision(
            case_id=case.case_id, revision=case.revision, change_note=change_note, addressed_points=addressed_points
        ):
            await _answer_requested_changes(
                uow, case=case, review_status=stored.status, addressed_points=addressed_points
            )
        stage = domain.stage_after_revision(stored.stage, case.iso_stage)
        await repo.update_case_snapshot(snapshot=case, stage=stage)
        if not domain.revision_opens_iteration(stored.status):
            await uow.commit()
            log.info("revision recorded; no iteration opened", revision=case.revision, review_status=str(stored.status))
            return
        await repo.set_case_status(case_id=case.case_id, status=ReviewStatus.IN_REVIEW)
        await _open_iteration(
            uow,
            case_id=case.case_id,
            call_id=case.call_id,
            stage=stage,
            revision=case.revision,
            reviewers=case.reviewers_per_iteration,
            timebox=timebox,
        )
        await uow.commit()


async def case_withdrawn(*, uow: Uow, case_id: uuid.UUID, reason: str) -> None:
    """Cancel the case's open iteration and tasks; the case takes no more decisions."""
    async with uow:
        repo = uow.repo
        if await repo.get_case(case_id, for_update=True) is None:
            log.warning("withdrawal of an unknown case ignored")
            return
        cancelled = await repo.cancel_open_work(case_id)
        await repo.set_case_status(case_id=case_id, status=ReviewStatus.WITHDRAWN)
        await uow.commit()
    # Not the reason: the submitter's own words may name people (logs carry no personal data, shared/logging.py).
    log.info("case withdrawn; open tasks cancelled", tasks_cancelled=cancelled, reason_given=bool(reason.strip()))


async def learn_call(*, uow: Uow, announcement: CallAnnouncedV1) -> None:
    """Learn a call from intake's announcement, or its newer revision; older revisions are ignored."""
    with bind_event_context(case_id=None, correlation_id=uow.origin.correlation_id, call_id=str(announcement.call_id)):
        async with uow:
            known = await uow.repo.get_call(announcement.call_id)
            known_revision = known.revision if known is not None else None
            newer = domain.is_newer_announcement(known_revision=known_revision, revision=announcement.revision)
            # save_call checks the revision again in its statement: two instances may learn the call at once.
            if not (newer and await uow.repo.save_call(announcement)):
                log.info("stale call announcement ignored", revision=announcement.revision, known=known_revision)
                return
            await uow.commit()
        log.info("call learned", revision=announcement.revision)


# --------------------------------------------------------------------------- escalation (job)


async def escalate_overdue_iteration(*, uow: Uow) -> bool:
    """Escalate the iteration overdue longest; False when none is left.

    The job gives each round a unit of work with a fresh correlation id: nothing triggered an
    escalation, so a new chain of events starts with it.
    """
    async with uow:
        overdue = await uow.repo.claim_overdue_iteration()
        if overdue is None:
            return False
        with (
            tracing.span("escalate overdue iteration", attributes={"cloudevents.event_subject": str(overdue.case_id)}),
            bind_event_context(case_id=str(overdue.case_id), correlation_id=uow.origin.correlation_id),
        ):
            await uow.repo.mark_escalated(case_id=overdue.case_id, iteration=overdue.iteration)
            await uow.emit(
                IterationEscalatedV1(
                    case_id=overdue.case_id,
                    call_id=overdue.call_id,
                    iteration=overdue.iteration,
                    due_at=overdue.due_at,
                )
            )
            await uow.commit()
            log.warning("iteration overdue; escalated", iteration=overdue.iteration, due_at=str(overdue.due_at))
    return True


# --------------------------------------------------------------------------- reminders to the holder (job)


async def remind_due_task(*, uow: Uow, windows: ReminderWindows) -> bool:
    """Remind the holder of one claimed task of what is due soon (its lease, its iteration's SLA); False when no
    task has a reminder due.

    The task's row stays locked until the reminders and the marks that they were sent commit together, so two
    instances running the job never send one twice. Like escalation, each task starts its own chain of events.
    """
    async with uow:
        found = await uow.repo.claim_task_to_remind(windows)
        if found is None:
            return False
        held, now = found
        with (
            tracing.span("remind task holder", attributes={"cloudevents.event_subject": str(held.case.case_id)}),
            bind_event_context(case_id=str(held.case.case_id), correlation_id=uow.origin.correlation_id),
        ):
            reminders = domain.due_reminders(held, now=now, windows=windows)
            if not reminders:
                # The search and the rule disagree; stop this round rather than find the same task forever.
                log.error("task found for a reminder, but none is due", task_id=str(held.task_id))
                return False
            for reminder in reminders:
                await uow.repo.mark_reminded(task_id=held.task_id, reminder=reminder, reviewer_id=held.reviewer.user_id)
                await uow.emit(
                    TaskDueSoonV1(
                        task_id=held.task_id,
                        case_id=held.case.case_id,
                        call_id=held.case.call_id,
                        case_title=held.case.title,
                        call_title=held.case.call_title,
                        iteration=held.iteration,
                        reviewer=held.reviewer,
                        reason=reminder.reason,
                        due_at=reminder.due_at,
                    )
                )
            await uow.commit()
            for reminder in reminders:
                log.info(
                    "task holder reminded",
                    task_id=str(held.task_id),
                    reviewer=held.reviewer.user_id,
                    reason=str(reminder.reason),
                    due_at=str(reminder.due_at),
                )
    return True


# --------------------------------------------------------------------------- steps shared by the use cases


async def _answer_requested_changes(
    uow: Uow, *, case: CaseSnapshot, review_status: ReviewStatus, addressed_points: Sequence[uuid.UUID]
) -> None:
    """Tell the reviewers who requested the changes a revision answers (``review_status``: before the revision)."""
    repo = uow.repo
    iteration = domain.answered_iteration(
        review_status=review_status, latest_settled=await repo.latest_settled_iteration(case.case_id)
    )
    if iteration is None:
        return
    answered = domain.changes_answered(
        case=case.header(),
        iteration=iteration,
        revision=case.revision,
        slots=await repo.tasks_of_iterations(case.case_id, iterations=[iteration]),
        revisions=await repo.revisions(case.case_id),
        addressed_points=addressed_points,
    )
    await uow.emit(answered)
    log.info(
        "requested changes answered",
        iteration=iteration,
        revision=case.revision,
        reviewers=[p.user_id for p in answered.reviewers],
        open_points=answered.open_points,
    )


async def _start_review(uow: Uow, *, case: CaseSnapshot, timebox: timedelta) -> bool:
    """Store a new case and open its first iteration; False if the case was already known."""
    if not await uow.repo.insert_case(snapshot=case, status=ReviewStatus.IN_REVIEW):
        return False
    await _open_iteration(
        uow,
        case_id=case.case_id,
        call_id=case.call_id,
        stage=case.iso_stage,
        revision=case.revision,
        reviewers=case.reviewers_per_iteration,
        timebox=timebox,
    )
    return True


async def _open_iteration(
    uow: Uow,
    *,
    case_id: uuid.UUID,
    call_id: uuid.UUID,
    stage: IsoStage,
    revision: int,
    reviewers: int,
    timebox: timedelta,
) -> int:
    """Open the case's next iteration (one queued task per reviewer) and announce it; returns its number."""
    opened = await uow.repo.open_iteration(
        case_id=case_id, stage=stage, revision=revision, reviewers=reviewers, timebox=timebox
    )
    await uow.emit(
        IterationOpenedV1(
            case_id=case_id,
            call_id=call_id,
            iteration=opened.iteration,
            revision=opened.revision,
            stage=stage,
            due_at=opened.due_at,
        )
    )
    log.info("iteration opened", iteration=opened.iteration, stage=str(stage), reviewers=reviewers)
    return opened.iteration


async def _held_task(
    repo: ReviewRepository, *, task_id: uuid.UUID, reviewer: Principal, for_update: bool = False
) -> Task:
    task = await repo.get_task(task_id, for_update=for_update)
    if task is None or not _holds(task, reviewer):
        raise _no_task(task_id)
    return task


async def _brief(repo: ReviewRepository, task: Task) -> TaskBrief:
    """What the task's reviewer reads besides the task: the earlier iterations, the points and the revisions."""
    earlier = await repo.iterations_before(task.case_id, task.iteration)
    # Only the earlier iterations' slots: the other four-eyes slot of this iteration stays unseen until it settles.
    slots = [s for s in await repo.tasks_of_case(task.case_id) if s.iteration < task.iteration]
    revisions = await repo.revisions(task.case_id)
    return TaskBrief(
        task=task,
        earlier=domain.iteration_records(earlier, slots, reader=Reader.REVIEWER),
        points=domain.feedback_points(slots, revisions),
        revisions=revisions,
    )


def _holds(task: Task, principal: Principal) -> bool:
    return task.reviewer_id == principal.user_id and principal.has(Role.REVIEWER)


def _no_task(task_id: uuid.UUID) -> NotFound:
    # The same answer for "no such task" and "someone else's task": never leak that it exists.
    return NotFound(f"no task {task_id} held by you")


async def at_a_glance(*, uow: UnitOfWork[ReviewRepository]) -> list[Glance]:
    """The operator dashboard's domain section: the queue (waiting, held, overdue) and each reviewer's load."""
    async with uow:
        queue = await uow.repo.queue_figures()
        load = await uow.repo.reviewer_load()
    return [
        Glance(
            caption="glance_queue",
            columns=("glance_queued", "glance_claimed", "glance_overdue"),
            rows=[(queue.queued, queue.claimed, queue.overdue)],
            test_id="queue",
        ),
        Glance(
            caption="glance_reviewer_load",
            columns=("glance_reviewer", "glance_holding", "glance_decided"),
            rows=[(r.reviewer_id, r.holding, r.decided) for r in load],
            test_id="reviewer-load",
        ),
    ]

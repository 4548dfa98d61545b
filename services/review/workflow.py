"""Review's use cases: what each request, case event and job does, one transaction each.

HTTP and job use cases take the pool and open their own transaction. Event use cases run inside the
consumer's transaction (inbox → change → outbox) and take its connection and ``emit``. Refusals are
``shared.errors`` (``NotFound``, ``Conflict``, ``Invalid``); shared.service turns them into HTTP answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import asyncpg

from services.review import domain
from services.review import repository as repo
from services.review.domain import CaseStatus, Decision, TaskStatus
from services.review.schemas import DecisionIn
from shared import outbox
from shared.auth import Principal
from shared.consumer import new_correlation_id
from shared.db import Connection
from shared.errors import NotFound
from shared.events import CaseSnapshot, EventPayload, FeedbackItem, IterationEscalatedV1, IterationOpenedV1
from shared.logging import bind_event_context, get_logger
from shared.vocabulary import Category, IsoStage, Language, Role

SERVICE = "review"

log = get_logger(__name__)

# Puts a follow-up event in the current transaction's outbox (``EventContext.emit`` or ``_outbox_emitter``).
Emit = Callable[[EventPayload], Awaitable[object]]

# A claim may lose a race against the same reviewer's concurrent claim (four-eyes index); try again a few times.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class DecisionResult:
    task_id: uuid.UUID
    case_id: uuid.UUID
    iteration: int
    decision: Decision
    outcome: Decision | None  # None while a four-eyes iteration waits for its second reviewer
    case_status: CaseStatus
    stage: IsoStage
    next_iteration: int | None


@dataclass(frozen=True)
class CaseHistory:
    case: asyncpg.Record
    iterations: list[asyncpg.Record]  # one page
    tasks: list[asyncpg.Record]  # the tasks of the iterations on the page
    total: int


# --------------------------------------------------------------------------- tasks (HTTP)


async def claim_task(
    *, pool: asyncpg.Pool, reviewer: Principal, lease: timedelta, correlation_id: str
) -> asyncpg.Record | None:
    """Claim the available task due first for ``reviewer``; None when nothing is available."""
    task = None
    for attempt in range(1, _CLAIM_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                task = await repo.claim_next_task(
                    conn, reviewer_id=reviewer.user_id, reviewer_org=reviewer.organisation_id, lease=lease
                )
            break
        except asyncpg.UniqueViolationError:
            log.info("claim lost a four-eyes race; retrying", attempt=attempt)
    if task is not None:
        with bind_event_context(case_id=str(task["case_id"]), correlation_id=correlation_id):
            log.info(
                "task claimed", task_id=str(task["task_id"]), iteration=task["iteration"], reviewer=reviewer.user_id
            )
    return task


async def get_task(*, pool: asyncpg.Pool, task_id: uuid.UUID, principal: Principal) -> asyncpg.Record:
    """A task, for the reviewer who holds it or an operator."""
    async with pool.acquire() as conn:
        task = await repo.get_task(conn, task_id=task_id)
    if task is None or not (principal.has(Role.OPERATOR) or _holds(task, principal)):
        raise _no_task(task_id)
    return task


async def release_task(
    *, pool: asyncpg.Pool, task_id: uuid.UUID, reviewer: Principal, correlation_id: str
) -> asyncpg.Record:
    """Give a claimed task back to the queue; returns the released task."""
    async with pool.acquire() as conn, conn.transaction():
        task = await _held_task(conn, task_id=task_id, reviewer=reviewer, for_update=True)
        domain.check_releasable(TaskStatus(task["status"]))
        await repo.release_task(conn, task_id=task_id)
        released = await repo.get_task(conn, task_id=task_id)
    assert released is not None
    with bind_event_context(case_id=str(task["case_id"]), correlation_id=correlation_id):
        log.info("task released", task_id=str(task_id))
    return released


async def decide_task(
    *,
    pool: asyncpg.Pool,
    task_id: uuid.UUID,
    reviewer: Principal,
    decision_in: DecisionIn,
    timebox: timedelta,
    correlation_id: str,
) -> DecisionResult:
    """Record a reviewer's decision; once all the iteration's reviewers decided, settle the iteration."""
    async with pool.acquire() as conn, conn.transaction():
        found = await _held_task(conn, task_id=task_id, reviewer=reviewer)
        with bind_event_context(case_id=str(found["case_id"]), correlation_id=correlation_id):
            # Lock the case first: the decisions of one case (both four-eyes slots) settle one after the other.
            # Then read the task again under the lock: it may have changed hands in between.
            await repo.get_case(conn, case_id=found["case_id"], for_update=True)
            task = await _held_task(conn, task_id=task_id, reviewer=reviewer, for_update=True)
            emit = _outbox_emitter(conn, case_id=task["case_id"], correlation_id=correlation_id)
            return await _decide(
                conn, task=task, reviewer=reviewer, decision_in=decision_in, timebox=timebox, emit=emit
            )


async def _decide(
    conn: Connection,
    *,
    task: asyncpg.Record,
    reviewer: Principal,
    decision_in: DecisionIn,
    timebox: timedelta,
    emit: Emit,
) -> DecisionResult:
    stage = IsoStage(task["stage"])
    case_status = CaseStatus(task["case_status"])
    domain.check_decidable(task_status=TaskStatus(task["status"]), lease_expired=task["lease_expired"])
    domain.check_no_conflict_of_interest(
        case_organisation=task["organisation_id"], reviewer_organisation=reviewer.organisation_id
    )
    domain.check_decision(case_status=case_status, stage=stage, decision=decision_in.decision)
    domain.check_feedback(stage, (f.checklist_item for f in decision_in.feedback))
    feedback = [
        FeedbackItem(checklist_item=f.checklist_item, met=f.met, comment=f.comment) for f in decision_in.feedback
    ]
    await repo.record_decision(
        conn, task_id=task["task_id"], decision=decision_in.decision, comment=decision_in.comment, feedback=feedback
    )

    case_id: uuid.UUID = task["case_id"]
    iteration: int = task["iteration"]
    slots = await repo.tasks_of_iterations(conn, case_id=case_id, iterations=[iteration])
    decided = [_reviewer_decision(t) for t in slots if t["status"] == TaskStatus.DECIDED]
    outcome = domain.resolve([d.decision for d in decided], required=len(slots))
    log.info(
        "review decision recorded", task_id=str(task["task_id"]), decision=str(decision_in.decision), outcome=outcome
    )
    result = DecisionResult(
        task_id=task["task_id"],
        case_id=case_id,
        iteration=iteration,
        decision=decision_in.decision,
        outcome=outcome,
        case_status=case_status,
        stage=stage,
        next_iteration=None,
    )
    if outcome is None:
        return result  # four-eyes: waiting for the other reviewer

    effect = domain.outcome_of(outcome, stage=stage)
    await repo.close_iteration(
        conn, case_id=case_id, iteration=iteration, status=effect.iteration_status, outcome=outcome
    )
    await repo.set_case_status(conn, case_id=case_id, status=effect.case_status, stage=effect.next_stage)
    await emit(
        domain.settled_event(outcome, case=_case_facts(task), iteration=iteration, stage=stage, decisions=decided)
    )
    result = replace(result, case_status=effect.case_status, stage=effect.next_stage or stage)
    if effect.opens_next_iteration:
        opened = await _open_iteration(
            conn,
            emit=emit,
            case_id=case_id,
            call_id=task["call_id"],
            stage=result.stage,
            revision=task["case_revision"],
            reviewers=task["reviewers_per_iteration"],
            timebox=timebox,
        )
        result = replace(result, next_iteration=opened)
    log.info("iteration settled", iteration=iteration, outcome=str(outcome), case_status=str(effect.case_status))
    return result


# --------------------------------------------------------------------------- operators and history (HTTP)


async def list_queue(
    *, pool: asyncpg.Pool, status: TaskStatus | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """All review tasks, due first; returns one page and the total."""
    async with pool.acquire() as conn:
        return await repo.list_tasks(conn, status=status, limit=limit, offset=offset)


async def case_history(
    *, pool: asyncpg.Pool, case_id: uuid.UUID, principal: Principal, limit: int, offset: int
) -> CaseHistory:
    """A page of a case's iterations with their tasks."""
    async with pool.acquire() as conn:
        case = await repo.get_case(conn, case_id=case_id)
        # The conflict rule also hides a case from reviewers of its own organisation.
        if case is None or (not principal.has(Role.OPERATOR) and case["organisation_id"] == principal.organisation_id):
            raise NotFound(f"no case {case_id}")
        total = await repo.count_iterations(conn, case_id=case_id)
        iterations = await repo.list_iterations(conn, case_id=case_id, limit=limit, offset=offset)
        tasks = await repo.tasks_of_iterations(conn, case_id=case_id, iterations=[r["iteration"] for r in iterations])
    return CaseHistory(case=case, iterations=iterations, tasks=tasks, total=total)


# --------------------------------------------------------------------------- intake's case events


async def case_submitted(*, conn: Connection, emit: Emit, case: CaseSnapshot, timebox: timedelta) -> None:
    if not await _start_review(conn, emit=emit, case=case, timebox=timebox):
        log.warning("case already known; submission ignored")


async def case_revised(*, conn: Connection, emit: Emit, case: CaseSnapshot, timebox: timedelta) -> None:
    stored = await repo.get_case(conn, case_id=case.case_id, for_update=True)
    if stored is None:
        # Events of one case keep their order, so this means the submission was lost upstream:
        # review the case from what the revision tells.
        log.warning("revision of an unknown case; reviewing it as a new submission", revision=case.revision)
        await _start_review(conn, emit=emit, case=case, timebox=timebox)
        return
    if case.revision < stored["revision"]:
        log.warning("stale revision ignored", revision=case.revision, stored_revision=stored["revision"])
        return
    stage = domain.stage_after_revision(IsoStage(stored["stage"]), case.iso_stage)
    await repo.update_case_snapshot(conn, snapshot=case, stage=stage)
    status = CaseStatus(stored["status"])
    if not domain.revision_opens_iteration(status):
        log.info("revision recorded; no iteration opened", revision=case.revision, case_status=str(status))
        return
    await repo.set_case_status(conn, case_id=case.case_id, status=CaseStatus.IN_REVIEW)
    await _open_iteration(
        conn,
        emit=emit,
        case_id=case.case_id,
        call_id=case.call_id,
        stage=stage,
        revision=case.revision,
        reviewers=case.reviewers_per_iteration,
        timebox=timebox,
    )


async def case_withdrawn(*, conn: Connection, case_id: uuid.UUID, reason: str) -> None:
    stored = await repo.get_case(conn, case_id=case_id, for_update=True)
    if stored is None:
        log.warning("withdrawal of an unknown case ignored")
        return
    cancelled = await repo.cancel_open_work(conn, case_id=case_id)
    await repo.set_case_status(conn, case_id=case_id, status=CaseStatus.WITHDRAWN)
    log.info("case withdrawn; open tasks cancelled", tasks_cancelled=cancelled, reason=reason)


# --------------------------------------------------------------------------- escalation (job)


async def escalate_overdue_iteration(*, pool: asyncpg.Pool) -> bool:
    """Escalate the iteration overdue longest, in its own transaction; False when none is left."""
    async with pool.acquire() as conn, conn.transaction():
        overdue = await repo.claim_overdue_iteration(conn)
        if overdue is None:
            return False
        await repo.mark_escalated(conn, case_id=overdue["case_id"], iteration=overdue["iteration"])
        correlation_id = new_correlation_id()  # nothing triggered this: a new chain of events starts here
        with bind_event_context(case_id=str(overdue["case_id"]), correlation_id=correlation_id):
            emit = _outbox_emitter(conn, case_id=overdue["case_id"], correlation_id=correlation_id)
            await emit(
                IterationEscalatedV1(
                    case_id=overdue["case_id"],
                    call_id=overdue["call_id"],
                    iteration=overdue["iteration"],
                    due_at=overdue["due_at"],
                )
            )
            log.warning("iteration overdue; escalated", iteration=overdue["iteration"], due_at=str(overdue["due_at"]))
    return True


# --------------------------------------------------------------------------- steps shared by the use cases


async def _start_review(conn: Connection, *, emit: Emit, case: CaseSnapshot, timebox: timedelta) -> bool:
    """Store a new case and open its first iteration; False if the case was already known."""
    if not await repo.insert_case(conn, snapshot=case, status=CaseStatus.IN_REVIEW):
        return False
    await _open_iteration(
        conn,
        emit=emit,
        case_id=case.case_id,
        call_id=case.call_id,
        stage=case.iso_stage,
        revision=case.revision,
        reviewers=case.reviewers_per_iteration,
        timebox=timebox,
    )
    return True


async def _open_iteration(
    conn: Connection,
    *,
    emit: Emit,
    case_id: uuid.UUID,
    call_id: uuid.UUID,
    stage: IsoStage,
    revision: int,
    reviewers: int,
    timebox: timedelta,
) -> int:
    """Open the case's next iteration (one queued task per reviewer) and announce it; returns its number."""
    opened = await repo.open_iteration(
        conn, case_id=case_id, stage=stage, revision=revision, reviewers=reviewers, timebox=timebox
    )
    await emit(
        IterationOpenedV1(
            case_id=case_id,
            call_id=call_id,
            iteration=opened["iteration"],
            revision=opened["revision"],
            stage=stage,
            due_at=opened["due_at"],
        )
    )
    log.info("iteration opened", iteration=opened["iteration"], stage=str(stage), reviewers=reviewers)
    return int(opened["iteration"])


def _outbox_emitter(conn: Connection, *, case_id: uuid.UUID, correlation_id: str) -> Emit:
    """``emit`` for work no event caused (an HTTP request, the job): a new event keyed by the case."""

    async def emit(payload: EventPayload) -> object:
        return await outbox.emit(conn, payload, service=SERVICE, subject=str(case_id), correlation_id=correlation_id)

    return emit


async def _held_task(
    conn: Connection, *, task_id: uuid.UUID, reviewer: Principal, for_update: bool = False
) -> asyncpg.Record:
    task = await repo.get_task(conn, task_id=task_id, for_update=for_update)
    if task is None or not _holds(task, reviewer):
        raise _no_task(task_id)
    return task


def _holds(task: asyncpg.Record, principal: Principal) -> bool:
    return bool(task["reviewer_id"] == principal.user_id and principal.has(Role.REVIEWER))


def _no_task(task_id: uuid.UUID) -> NotFound:
    # The same answer for "no such task" and "someone else's task": never leak that it exists.
    return NotFound(f"no task {task_id} held by you")


def _reviewer_decision(task: asyncpg.Record) -> domain.ReviewerDecision:
    return domain.ReviewerDecision(
        reviewer_id=task["reviewer_id"],
        decision=Decision(task["decision"]),
        comment=task["comment"] or "",
        feedback=tuple(FeedbackItem.model_validate(f) for f in task["feedback"] or []),
    )


def _case_facts(task: asyncpg.Record) -> domain.CaseFacts:
    return domain.CaseFacts(
        case_id=task["case_id"],
        call_id=task["call_id"],
        call_title=task["call_title"],
        title=task["title"],
        summary=task["summary"],
        category=Category(task["category"]),
        language=Language(task["language"]),
        organisation_id=task["organisation_id"],
        organisation_name=task["organisation_name"],
    )

"""Review's Kafka handlers (intake's case events) and its background job (escalating overdue iterations)."""

from __future__ import annotations

import asyncio
from typing import cast

import asyncpg

from services.review import domain
from services.review import repository as repo
from services.review.domain import CaseStatus
from services.review.settings import ReviewSettings
from shared import outbox
from shared.consumer import EventContext, EventRouter, new_correlation_id
from shared.db import Connection
from shared.events import (
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    IterationEscalatedV1,
    IterationOpenedV1,
)
from shared.logging import bind_event_context, get_logger
from shared.service import Runtime
from shared.vocabulary import IsoStage

SERVICE = "review"

log = get_logger(__name__)


async def _open_iteration(
    ctx: EventContext, *, case: CaseSnapshot, stage: IsoStage, reviewers: int, settings: ReviewSettings
) -> None:
    opened = await repo.open_iteration(
        ctx.conn,
        case_id=case.case_id,
        stage=stage,
        revision=case.revision,
        reviewers=reviewers,
        timebox=settings.timebox,
    )
    await ctx.emit(
        IterationOpenedV1(
            case_id=case.case_id,
            call_id=case.call_id,
            iteration=opened["iteration"],
            revision=opened["revision"],
            stage=stage,
            due_at=opened["due_at"],
        )
    )
    log.info("iteration opened", iteration=opened["iteration"], stage=str(stage), reviewers=reviewers)


def build_event_router(settings: ReviewSettings) -> EventRouter:
    """The handlers, bound to the service's settings (the iteration timebox)."""
    router = EventRouter()

    @router.on(CaseSubmittedV1)
    async def on_case_submitted(ctx: EventContext, payload: CaseSubmittedV1) -> None:
        case = payload.case
        if not await repo.insert_case(ctx.conn, snapshot=case, status=CaseStatus.IN_REVIEW):
            log.warning("case already known; submission ignored")
            return
        await _open_iteration(
            ctx, case=case, stage=case.iso_stage, reviewers=case.reviewers_per_iteration, settings=settings
        )

    @router.on(CaseRevisedV1)
    async def on_case_revised(ctx: EventContext, payload: CaseRevisedV1) -> None:
        case = payload.case
        stored = await repo.get_case(ctx.conn, case_id=case.case_id, for_update=True)
        if stored is None:
            # Events of one case keep their order, so this means the submission was lost upstream:
            # review the case from what the revision tells.
            log.warning("revision of an unknown case; reviewing it as a new submission", revision=case.revision)
            await repo.insert_case(ctx.conn, snapshot=case, status=CaseStatus.IN_REVIEW)
            await _open_iteration(
                ctx, case=case, stage=case.iso_stage, reviewers=case.reviewers_per_iteration, settings=settings
            )
            return
        if case.revision < stored["revision"]:
            log.warning("stale revision ignored", revision=case.revision, stored_revision=stored["revision"])
            return
        stage = domain.stage_after_revision(IsoStage(stored["stage"]), case.iso_stage)
        await repo.update_case_snapshot(ctx.conn, snapshot=case, stage=stage)
        status = CaseStatus(stored["status"])
        if not domain.revision_opens_iteration(status):
            log.info("revision recorded; no iteration opened", revision=case.revision, case_status=str(status))
            return
        await repo.set_case_status(ctx.conn, case_id=case.case_id, status=CaseStatus.IN_REVIEW)
        await _open_iteration(ctx, case=case, stage=stage, reviewers=case.reviewers_per_iteration, settings=settings)

    @router.on(CaseWithdrawnV1)
    async def on_case_withdrawn(ctx: EventContext, payload: CaseWithdrawnV1) -> None:
        stored = await repo.get_case(ctx.conn, case_id=payload.case_id, for_update=True)
        if stored is None:
            log.warning("withdrawal of an unknown case ignored")
            return
        cancelled = await repo.cancel_open_work(ctx.conn, case_id=payload.case_id)
        await repo.set_case_status(ctx.conn, case_id=payload.case_id, status=CaseStatus.WITHDRAWN)
        log.info("case withdrawn; open tasks cancelled", tasks_cancelled=cancelled, reason=payload.reason)

    return router


# --------------------------------------------------------------------------- escalation job


async def escalate_one(conn: Connection) -> bool:
    """Escalate one overdue iteration in the caller's transaction; False when none is left."""
    overdue = await repo.claim_overdue_iteration(conn)
    if overdue is None:
        return False
    await repo.mark_escalated(conn, case_id=overdue["case_id"], iteration=overdue["iteration"])
    correlation_id = new_correlation_id()  # nothing triggered this: a new chain of events starts here
    with bind_event_context(case_id=str(overdue["case_id"]), correlation_id=correlation_id):
        await outbox.emit(
            conn,
            IterationEscalatedV1(
                case_id=overdue["case_id"],
                call_id=overdue["call_id"],
                iteration=overdue["iteration"],
                due_at=overdue["due_at"],
            ),
            service=SERVICE,
            subject=str(overdue["case_id"]),
            correlation_id=correlation_id,
        )
        log.warning("iteration overdue; escalated", iteration=overdue["iteration"], due_at=str(overdue["due_at"]))
    return True


async def escalate_overdue_iterations(runtime: Runtime) -> None:
    """Every ``escalation_interval_s``: escalate each overdue iteration, one transaction per iteration."""
    settings = cast(ReviewSettings, runtime.settings)
    while True:
        try:
            while True:
                async with runtime.db().acquire() as conn, conn.transaction():
                    if not await escalate_one(conn):
                        break
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("escalation round failed; will retry", error=repr(exc))
        await asyncio.sleep(settings.escalation_interval_s)

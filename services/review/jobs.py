"""Review's background jobs: escalating overdue iterations, reminding task holders (the use cases are in
workflow.py)."""

from __future__ import annotations

import asyncio
from typing import cast

from services.review import workflow
from services.review.domain import ReminderWindows
from services.review.repository import ReviewRepository
from services.review.settings import ReviewSettings
from shared import tracing
from shared.consumer import new_correlation_id
from shared.db import DATABASE_ERRORS
from shared.logging import get_logger
from shared.runtime import Runtime

log = get_logger(__name__)


async def escalate_overdue_iterations(runtime: Runtime) -> None:
    """Every ``escalation_interval_s``: escalate each overdue iteration, one unit of work per iteration."""
    settings = cast(ReviewSettings, runtime.settings)
    while True:
        try:
            with tracing.quietly():  # looking is not a case's work; each escalation starts its own trace
                await escalation_round(runtime)
        except DATABASE_ERRORS as exc:
            log.warning("escalation round failed; will retry", error=repr(exc))
        await asyncio.sleep(settings.escalation_interval_s)


async def escalation_round(runtime: Runtime) -> int:
    """Escalate every iteration overdue now; returns how many. Each starts its own chain of events."""
    escalated = 0
    while await workflow.escalate_overdue_iteration(
        uow=runtime.unit_of_work(ReviewRepository, correlation_id=new_correlation_id())
    ):
        escalated += 1
    return escalated


async def remind_task_holders(runtime: Runtime) -> None:
    """Every ``reminder_interval_s``: remind each reviewer holding a task of its lease or its SLA ending soon."""
    settings = cast(ReviewSettings, runtime.settings)
    windows = ReminderWindows(lease=settings.lease_reminder, sla=settings.sla_reminder)
    while True:
        try:
            with tracing.quietly():  # looking is not a case's work; each reminder starts its own trace
                await reminder_round(runtime, windows)
        except DATABASE_ERRORS as exc:
            log.warning("reminder round failed; will retry", error=repr(exc))
        await asyncio.sleep(settings.reminder_interval_s)


async def reminder_round(runtime: Runtime, windows: ReminderWindows) -> int:
    """Send every reminder due now, one unit of work per task; returns how many tasks had reminders."""
    reminded = 0
    while await workflow.remind_due_task(
        uow=runtime.unit_of_work(ReviewRepository, correlation_id=new_correlation_id()), windows=windows
    ):
        reminded += 1
    return reminded

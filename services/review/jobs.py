"""Review's background jobs: escalating overdue iterations, reminding task holders (the use cases are in
workflow.py)."""

from __future__ import annotations

from typing import cast

from services.review import workflow
from services.review.domain import ReminderWindows
from services.review.repository import ReviewRepository
from services.review.settings import ReviewSettings
from shared.consumer import new_correlation_id
from shared.runtime import Runtime, every


async def escalate_overdue_iterations(runtime: Runtime) -> None:
    """Every ``escalation_interval_s``: escalate each overdue iteration, one unit of work per iteration."""
    settings = cast(ReviewSettings, runtime.settings)
    await every(settings.escalation_interval_s, lambda: escalation_round(runtime), what="escalation")


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
    await every(settings.reminder_interval_s, lambda: reminder_round(runtime, windows), what="reminder")


async def reminder_round(runtime: Runtime, windows: ReminderWindows) -> int:
    """Send every reminder due now, one unit of work per task; returns how many tasks had reminders."""
    reminded = 0
    while await workflow.remind_due_task(
        uow=runtime.unit_of_work(ReviewRepository, correlation_id=new_correlation_id()), windows=windows
    ):
        reminded += 1
    return reminded

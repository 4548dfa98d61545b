"""Awards' background job: reminding jurors whose scores are due (the use case is in workflow.py)."""

from __future__ import annotations

from typing import cast

from services.awards import workflow
from services.awards.repository import AwardsRepository
from services.awards.settings import AwardsSettings
from shared.consumer import new_correlation_id
from shared.runtime import Runtime, every


async def remind_jurors(runtime: Runtime) -> None:
    """Every ``scoring_reminder_interval_s``: remind each juror whose scores are due soon, one unit of work each."""
    settings = cast(AwardsSettings, runtime.settings)
    await every(settings.scoring_reminder_interval_s, lambda: reminder_round(runtime), what="scoring reminder")


async def reminder_round(runtime: Runtime) -> int:
    """Remind every juror due a reminder now; returns how many. Each starts its own chain of events."""
    settings = cast(AwardsSettings, runtime.settings)
    reminded = 0
    while await workflow.remind_juror(
        uow=runtime.unit_of_work(AwardsRepository, correlation_id=new_correlation_id()),
        lead=settings.scoring_reminder_lead,
    ):
        reminded += 1
    return reminded

"""Intake's background job: announcing the calls that were never announced (the use case is in workflow.py)."""

from __future__ import annotations

import asyncio

from services.intake import workflow
from services.intake.repository import IntakeRepository
from shared.consumer import new_correlation_id
from shared.db import DATABASE_ERRORS
from shared.logging import get_logger
from shared.runtime import Runtime

log = get_logger(__name__)

RETRY_S = 5.0


async def announce_unannounced_calls(runtime: Runtime) -> None:
    """Once, at start: announce each call created before intake announced calls, so review and awards learn it.

    Calls created or changed since are announced in the same unit of work, so after one clean pass there is
    nothing left to do; the job ends. A database failure is retried.
    """
    while True:
        try:
            announced = 0
            while await workflow.announce_unannounced_call(
                uow=runtime.unit_of_work(IntakeRepository, correlation_id=new_correlation_id())
            ):
                announced += 1
        except DATABASE_ERRORS as exc:
            log.warning("announcing earlier calls failed; will retry", error=repr(exc))
            await asyncio.sleep(RETRY_S)
            continue
        if announced:
            log.info("earlier calls announced", calls=announced)
        return

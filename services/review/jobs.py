"""Review's background job: escalating overdue iterations (the use case is in workflow.py)."""

from __future__ import annotations

import asyncio
from typing import cast

import asyncpg

from services.review import workflow
from services.review.settings import ReviewSettings
from shared.logging import get_logger
from shared.service import Runtime

log = get_logger(__name__)


async def escalate_overdue_iterations(runtime: Runtime) -> None:
    """Every ``escalation_interval_s``: escalate each overdue iteration, one transaction per iteration."""
    settings = cast(ReviewSettings, runtime.settings)
    while True:
        try:
            while await workflow.escalate_overdue_iteration(pool=runtime.db()):
                pass
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("escalation round failed; will retry", error=repr(exc))
        await asyncio.sleep(settings.escalation_interval_s)

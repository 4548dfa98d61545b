"""Retention for the reliability tables, so they do not grow for ever.

* Published outbox rows are kept ``outbox_retention_hours`` (default 7 days) for
  inspection, then deleted; unpublished rows are never touched.
* Inbox rows are what makes a redelivery harmless, so they are kept well beyond the
  longest time Kafka could deliver a message again (its log retention, 7 days by
  default): ``inbox_retention_hours`` defaults to 30 days.
* Replayed dead letters are kept ``dead_letter_retention_hours`` (30 days); pending
  ones stay until an operator has dealt with them.
"""

from __future__ import annotations

import asyncio

import asyncpg

from shared import tracing
from shared.logging import get_logger
from shared.repository import Purged, ReliabilityRepository

log = get_logger(__name__)

__all__ = ["Purged", "purge", "run_periodically"]


async def purge(
    pool: asyncpg.Pool,
    *,
    outbox_retention_hours: float,
    inbox_retention_hours: float,
    dead_letter_retention_hours: float,
) -> Purged:
    return await ReliabilityRepository(pool).purge(
        outbox_retention_hours=outbox_retention_hours,
        inbox_retention_hours=inbox_retention_hours,
        dead_letter_retention_hours=dead_letter_retention_hours,
    )


async def run_periodically(
    pool: asyncpg.Pool,
    *,
    interval_s: float,
    outbox_retention_hours: float,
    inbox_retention_hours: float,
    dead_letter_retention_hours: float,
) -> None:
    while True:
        try:
            with tracing.quietly():
                purged = await purge(
                    pool,
                    outbox_retention_hours=outbox_retention_hours,
                    inbox_retention_hours=inbox_retention_hours,
                    dead_letter_retention_hours=dead_letter_retention_hours,
                )
            if purged.outbox or purged.inbox or purged.dead_letters:
                log.info("old rows purged", outbox=purged.outbox, inbox=purged.inbox, dead_letters=purged.dead_letters)
        except (OSError, asyncpg.PostgresError) as exc:  # the database is away: try again next round
            log.warning("housekeeping round failed", error=repr(exc))
        await asyncio.sleep(interval_s)

"""The live resources of one service process, and the units of work opened on them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from shared import outbox, tracing
from shared.consumer import EventConsumer
from shared.db import DATABASE_ERRORS, Connection
from shared.events import EventPayload
from shared.kafka import BatchConsumer, EventProducer
from shared.lag import PartitionLag
from shared.logging import get_logger
from shared.settings import ServiceSettings
from shared.uow import Origin, UnitOfWork

R = TypeVar("R")


@dataclass
class Runtime:
    """Available to routes as ``request.app.state.runtime`` and to background jobs as their argument."""

    settings: ServiceSettings
    service: str
    publishes: Collection[type[EventPayload]] = ()
    pool: asyncpg.Pool | None = None
    event_pool: asyncpg.Pool | None = None
    producer: EventProducer | None = None
    relay: outbox.OutboxRelay | None = None
    consumer: EventConsumer | None = None
    consumer_loop: BatchConsumer | None = None
    consumer_lag: dict[str, int] = field(default_factory=dict)
    partition_lag: list[PartitionLag] = field(default_factory=list)

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("database pool not started")
        return self.pool

    def event_db(self) -> asyncpg.Pool:
        """The consumer's and the relay's pool: never queued behind requests (settings ``db_event_pool_max``)."""
        if self.event_pool is None:
            raise RuntimeError("event pool not started")
        return self.event_pool

    def dead_letter_sink(self) -> EventProducer:
        if self.producer is None:
            raise RuntimeError("producer not started")
        return self.producer

    def unit_of_work(
        self, repository: Callable[[Connection], R], *, correlation_id: str, causation_id: str | None = None
    ) -> UnitOfWork[R]:
        """A unit of work on the pool: a request's, or a background job's (a fresh correlation id, or the one
        of the event whose follow-up work it does, with that event's id as ``causation_id``)."""
        origin = Origin(
            service=self.service,
            correlation_id=correlation_id,
            causation_id=causation_id,
            publishes=frozenset(self.publishes),
        )
        return UnitOfWork(self.db(), repository=repository, origin=origin)


_log = get_logger(__name__)


async def every(interval_s: float, round_of_work: Callable[[], Awaitable[int]], *, what: str) -> None:
    """A background job's loop: one round of work every ``interval_s``, for ever.

    A round looks for work quietly (looking is not a case's work; each unit it finds starts its own trace) and
    a database that does not answer only postpones it to the next round.
    """
    while True:
        try:
            with tracing.quietly():
                await round_of_work()
        except DATABASE_ERRORS as exc:
            _log.warning(f"{what} round failed; will retry", error=repr(exc))
        await asyncio.sleep(interval_s)

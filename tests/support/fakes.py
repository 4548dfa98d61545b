"""Fakes for fast unit tests: a unit of work without a database (for the use cases in workflow.py), a Kafka record.

A service's fake repository (in memory, in the test module) stands in for its real one; the fake
unit of work records what the use case committed, rolled back and emitted. The repository's own
state is not rolled back: a test that needs that asserts on ``rolled_back`` and ``events`` instead.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Self, TypeVar

from shared.events import CloudEvent, EventPayload
from shared.uow import Origin, UnitOfWork

R = TypeVar("R")


class FakeUnitOfWork(UnitOfWork[R], Generic[R]):
    def __init__(
        self,
        repo: R,
        *,
        service: str = "test",
        correlation_id: str = "test-correlation",
        publishes: Collection[type[EventPayload]] | None = None,
    ) -> None:
        origin = Origin(service=service, correlation_id=correlation_id, publishes=publishes)
        super().__init__(None, repository=lambda _: repo, origin=origin)  # type: ignore[arg-type]
        self._fake_repo = repo
        self._open = False
        self._pending: list[EventPayload] = []
        self.events: list[EventPayload] = []  # emitted by transactions that committed
        self.commits = 0
        self.rollbacks = 0

    @property
    def repo(self) -> R:
        if not self._open:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._fake_repo

    async def __aenter__(self) -> Self:
        if self._open:
            raise RuntimeError("this unit of work is already open")
        self._open = True
        self._committed = False
        self._pending = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            self.rollbacks += 1
        self._open = False

    async def commit(self) -> None:
        self.events.extend(self._pending)
        self._pending = []
        self._committed = True
        self.commits += 1

    async def emit(self, payload: EventPayload) -> CloudEvent:
        event = self.origin.envelope(payload)
        self._pending.append(payload)
        self.emitted.append(event)
        return event


@dataclass
class FakeRecord:
    """A Kafka record as the consumer reads it (``shared.consumer.Record``), made in memory."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: int = 0  # ms, as the producer stamped it

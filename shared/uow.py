"""The unit of work: one transaction, the service's repository on its connection, and the outbox.

Every use case reads as its steps::

    async with uow:
        case = await uow.repo.get_case(case_id=case_id)
        ...
        await uow.emit(CaseWithdrawnV1(...))
        await uow.commit()

Leaving the block without ``commit()`` rolls back, so a refusal raised half-way changes nothing.
``emit`` is the one way an event is sent: into this transaction's outbox, in an envelope that
carries the correlation id, the causing event's id and the current trace context; the relay
publishes it once the transaction has committed.

A unit of work opened on a pool borrows a connection and starts a transaction. One opened on a
connection that is already in a transaction (the consumer's, which holds the inbox claim) starts
a savepoint instead: the use case looks the same whether a request or an event started it, and
its ``commit`` releases the savepoint while the consumer commits the whole.

One that *joins* a ``SharedTransaction`` (the consumer's fast run over a batch of events) opens
no savepoint and inserts no outbox row of its own: its ``commit`` only says the use case completed,
and its events wait in the shared transaction until the consumer inserts the whole run's in one go. A
savepoint and its release are two round trips per event; a run of events that all go well needs
neither. Leaving such a unit of work without ``commit()`` cannot be rolled back alone, so it marks
the shared transaction spoilt, and the consumer does the run again the careful way (savepoints).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Self, TypeVar

import asyncpg
from asyncpg.transaction import Transaction

from shared import outbox, tracing
from shared.db import Connection
from shared.events import CloudEvent, EventPayload, new_event

R = TypeVar("R")


class UndeclaredEvent(TypeError):
    """A service emitted a payload type its ServiceDefinition does not declare it publishes (a bug)."""


@dataclass(frozen=True)
class Origin:
    """Whose events a unit of work emits, and why: the service, the correlation id, the causing event's id."""

    service: str
    correlation_id: str
    causation_id: str | None = None  # the id of the event this work answers, if any
    # What the service declares it publishes; None leaves emission unchecked (tools and tests).
    publishes: Collection[type[EventPayload]] | None = None

    def envelope(self, payload: EventPayload) -> CloudEvent:
        if self.publishes is not None and type(payload) not in self.publishes:
            raise UndeclaredEvent(
                f"{self.service} emits {payload.event_type} but its ServiceDefinition does not declare "
                f"{type(payload).__name__} in publishes"
            )
        traceparent, tracestate = tracing.current_trace_context()
        return new_event(
            payload,
            service=self.service,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            traceparent=traceparent,
            tracestate=tracestate,
        )


@dataclass
class SharedTransaction:
    """The consumer's transaction over a run of events, joined by their units of work (see the module docstring).

    ``outbox``: the events they emitted, in order, each with its topic, for the consumer to insert at the end.
    ``spoilt``: a unit of work was left without ``commit()``; what it did cannot be told from what the others did.
    """

    outbox: list[tuple[CloudEvent, str]] = field(default_factory=list)
    spoilt: bool = False


class UnitOfWork(Generic[R]):
    """A transaction with the service's repository (``repo``) bound to it; see the module docstring."""

    def __init__(
        self,
        source: asyncpg.Pool | Connection,
        *,
        repository: Callable[[Connection], R],
        origin: Origin,
        joins: SharedTransaction | None = None,
    ) -> None:
        self._source = source
        self._repository = repository
        self.origin = origin
        if joins is not None and isinstance(source, asyncpg.Pool):
            raise TypeError("a unit of work joins a shared transaction on its connection, not a pool")
        self._joins = joins
        self._conn: Connection | None = None
        self._borrowed = False
        self._transaction: Transaction | None = None
        self._committed = False
        self.emitted: list[CloudEvent] = []

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._conn

    @property
    def repo(self) -> R:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._repo

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        if isinstance(self._source, asyncpg.Pool):
            self._conn = await self._source.acquire()
            self._borrowed = True
        else:
            self._conn = self._source
        if self._joins is None:
            try:
                self._transaction = self._conn.transaction()
                await self._transaction.start()
            except BaseException:
                await self._release()
                raise
        self._repo = self._repository(self._conn)
        self._committed = False
        self.emitted = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._joins is not None and not self._committed:
            self._joins.spoilt = True  # nothing to roll back alone: the consumer does the run again, carefully
        try:
            if not self._committed and self._transaction is not None:
                if exc is None:
                    await self._transaction.rollback()
                else:  # keep the original error: a broken connection cannot roll back either
                    with contextlib.suppress(Exception):
                        await self._transaction.rollback()
        finally:
            await self._release()

    async def _release(self) -> None:
        conn, self._conn, self._transaction = self._conn, None, None
        if conn is not None and self._borrowed and isinstance(self._source, asyncpg.Pool):
            self._borrowed = False
            await self._source.release(conn)  # type: ignore[arg-type]  # acquire() gave it: a pool proxy

    async def commit(self) -> None:
        if self._joins is not None:
            if self._conn is None:
                raise RuntimeError("the unit of work is not open")
            self._committed = True  # the consumer commits the shared transaction
            return
        if self._transaction is None:
            raise RuntimeError("the unit of work is not open")
        await self._transaction.commit()
        self._committed = True

    async def emit(self, payload: EventPayload) -> CloudEvent:
        """Put an event about ``payload``'s case in this transaction's outbox."""
        event = self.origin.envelope(payload)
        if self._joins is not None:
            self.conn  # noqa: B018 - refuses an emit outside `async with uow:` as the other way does
            self._joins.outbox.append((event, payload.topic))
        else:
            await outbox.enqueue(self.conn, event, topic=payload.topic)
        self.emitted.append(event)
        return event

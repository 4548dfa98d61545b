"""The transactional outbox: events are inserted with the domain change, then relayed to Kafka.

``enqueue`` runs inside the caller's transaction, so an event exists exactly when
the change that caused it was committed. ``OutboxRelay`` publishes pending rows in
id order. It wakes on ``LISTEN kipina_outbox`` (a trigger notifies on insert) and
polls as a safety net, so a lost notification or a Kafka outage only delays.

Several relays (one per service instance) may run against one database: rows are
claimed with ``FOR UPDATE SKIP LOCKED``. To keep the per-case order, a relay leaves
a row alone while an older unpublished row with the same key is held by another
relay (it takes it on a later round, once that one is published).

A crash after Kafka accepted a batch but before the rows were marked publishes the
batch again; consumers' inboxes make that harmless (at-least-once + dedupe).

Test hook (docs/design.md): ``KIPINA_FAULT_RELAY_EXIT_AFTER_PUBLISH=<n>``, read once when the relay is made, makes
the process exit at once (``os._exit``) right after Kafka accepted its relay's n-th batch and before the rows are
marked published: exactly that crash, for tests/faults/test_relay_killed_after_publish.py. Unset (always, outside
that test) it costs one comparison per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.db import Connection
from shared.events import CloudEvent
from shared.logging import get_logger
from shared.metrics import OUTBOX_PUBLISH_ERRORS, OUTBOX_PUBLISHED
from shared.repository import Backlog, OutboxEntry, OutboxRow, ReliabilityRepository

log = get_logger(__name__)

NOTIFY_CHANNEL = "kipina_outbox"
FAULT_EXIT_AFTER_PUBLISH = "KIPINA_FAULT_RELAY_EXIT_AFTER_PUBLISH"  # the test hook (the module's docstring)
FAULT_EXIT_CODE = 137  # as if SIGKILLed

# publish(topic, key, value) -> awaits the broker's acknowledgement of a whole batch.
PublishBatch = Callable[[Sequence[tuple[str, bytes, bytes]]], Awaitable[None]]


async def enqueue(conn: Connection, event: CloudEvent, *, topic: str) -> None:
    """Insert an event into the outbox, in the caller's transaction."""
    await ReliabilityRepository(conn).enqueue(**_entry(event, topic)._asdict())


async def enqueue_many(conn: Connection, events: Sequence[tuple[CloudEvent, str]]) -> None:
    """Insert events (each with its topic) into the outbox in one round trip, in the caller's transaction; their
    ids, and so the relay's order, follow the order given."""
    await ReliabilityRepository(conn).enqueue_many([_entry(event, topic) for event, topic in events])


def _entry(event: CloudEvent, topic: str) -> OutboxEntry:
    return OutboxEntry(
        event_id=event.id,
        event_type=event.type,
        topic=topic,
        message_key=event.subject,
        payload=event.to_bytes(),
        traceparent=event.traceparent,
        tracestate=event.tracestate,
    )


async def backlog(pool: asyncpg.Pool) -> Backlog:
    """Unpublished rows and the age of the oldest one, for dashboards and metrics."""
    return await ReliabilityRepository(pool).backlog()


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publish: PublishBatch,
        *,
        dsn: str,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._pool = pool
        self._publish = publish
        self._dsn = dsn
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._stopping = False
        self._batches = 0
        self._exit_after_batch = int(os.environ.get(FAULT_EXIT_AFTER_PUBLISH) or 0)  # 0: never (the test hook)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(Exception):
                await self._listener.close()
        self._listener = None

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self._dsn)
            await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:  # the poll keeps working without it
            log.warning("outbox listener unavailable; polling only", error=str(exc))
            self._listener = None

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            await self._ensure_listener()
            try:
                with tracing.quietly():  # polling is not a case's work; each event's publish span is
                    published = await self.relay_once()
                failures = 0
            except Exception as exc:  # Kafka or the database is down: back off, rows stay pending
                failures += 1
                OUTBOX_PUBLISH_ERRORS.inc()
                delay = min(self._max_backoff_s, 0.5 * 2 ** min(failures, 6))
                log.warning("outbox relay round failed; will retry", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            if published >= self._batch_size:
                continue  # more may be waiting: drain before sleeping
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
            self._wake.clear()

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        try:
            published = await self._relay_batch()
        except _PublishFailed as failed:
            # Recorded after the claiming transaction rolled back (it held the row locks).
            await self._record_failure(failed.ids, repr(failed.__cause__))
            raise
        if published:
            OUTBOX_PUBLISHED.inc(published)
            log.debug("outbox batch published", count=published)
        return published

    async def _relay_batch(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            repo = ReliabilityRepository(conn)
            rows = await repo.claim_unpublished(limit=self._batch_size)
            if rows:
                rows = await self._in_key_order(repo, rows)
            if not rows:
                return 0
            ids = [r.id for r in rows]
            # One publish span per event, in the trace of the work that emitted it (while spans are recorded: an
            # unrecorded one would carry nothing anywhere).
            spans = (
                [
                    tracing.start_span(
                        f"{r.topic} publish",
                        kind=SpanKind.PRODUCER,
                        traceparent=r.traceparent,
                        tracestate=r.tracestate,
                        attributes={"messaging.system": "kafka", "messaging.destination.name": r.topic},
                    )
                    for r in rows
                ]
                if tracing.recording()
                else []
            )
            try:
                await self._publish([(r.topic, r.message_key.encode(), r.payload) for r in rows])
            except Exception as exc:
                raise _PublishFailed(ids) from exc
            finally:
                for publish_span in spans:
                    publish_span.end()
            self._batches += 1
            if self._batches == self._exit_after_batch:
                log.warning("test hook: exiting after publishing, before marking published", rows=len(ids))
                os._exit(FAULT_EXIT_CODE)
            await repo.mark_published(ids)
            return len(ids)

    async def _in_key_order(self, repo: ReliabilityRepository, rows: list[OutboxRow]) -> list[OutboxRow]:
        """Drop rows whose key has an older pending row that this batch does not hold."""
        first_foreign = await repo.first_foreign_pending(
            keys=list({r.message_key for r in rows}), held=[r.id for r in rows]
        )
        return [r for r in rows if not (r.message_key in first_foreign and first_foreign[r.message_key] < r.id)]

    async def _record_failure(self, ids: list[int], error: str) -> None:
        with contextlib.suppress(Exception):
            await ReliabilityRepository(self._pool).record_publish_failure(ids, error=error)


class _PublishFailed(Exception):
    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"publishing {len(ids)} outbox rows failed")
        self.ids = ids

"""Reliable event consumption: inbox → domain change → outbox in one transaction, retries, dead letters.

A service declares its handlers on an ``EventRouter`` (the topics it subscribes to follow from
the payload types it handles); ``EventConsumer`` applies the reliability protocol (docs/design.md)
to the records of one partition, in offset order (``process_partition``; the Kafka loop that feeds
it is ``shared.kafka.BatchConsumer``):

1. Parse the CloudEvents envelope and its typed payload. A malformed message, or
   an event type no contract knows, goes to the dead-letter topic at once.
   A known type this service has no handler for is skipped (acked).
2. In one transaction for as many records as go well (the fast run): one statement claims the
   run's events in the inbox (already there → skipped), each handler changes the domain and emits
   follow-up events through a unit of work that joins the transaction (``EventContext.unit_of_work``,
   ``SharedTransaction``: no savepoint), and one statement inserts the run's outbox rows.
3. A handler that raises, or a use case that leaves without commit, rolls the fast run back; the
   records before it are done again with a savepoint per event and per unit of work (the careful
   run) and committed. A use case left without commit is done in that careful run, where its
   savepoint undoes it; a handler that raised is then handled alone (``process``): retried with
   exponential backoff, ``max_attempts`` times in all counting the failed try in the fast run; then
   the message is dead-lettered and the partition moves on. A lost database connection is not the
   message's fault: after the retries it propagates, and the caller does not commit the record's
   offset, so Kafka delivers it again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload

import asyncpg
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind
from pydantic import ValidationError

from shared import inbox, outbox, tracing
from shared.db import Connection
from shared.events import (
    EVENT_TYPES,
    CloudEvent,
    DeadLetteredV1,
    EventPayload,
    UnknownEventType,
    new_event,
    parse_event,
)
from shared.logging import bind_event_context, get_logger
from shared.metrics import (
    DEAD_LETTERS,
    EVENT_HANDLING_SECONDS,
    EVENTS_CONSUMED,
    HANDLER_RETRIES,
)
from shared.repository import InboxClaim, ReliabilityRepository
from shared.uow import Origin, SharedTransaction, UnitOfWork

log = get_logger(__name__)

# Failures of the infrastructure rather than of the message: never dead-letter for these.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


class Record(Protocol):
    """What we need of a Kafka record (aiokafka's ``ConsumerRecord`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass
class EventContext:
    """What a handler gets: the consumer's open transaction and the event being handled."""

    conn: Connection
    event: CloudEvent
    service: str
    publishes: Collection[type[EventPayload]] | None = None
    # The consumer's fast run: units of work join its transaction instead of each opening a savepoint.
    joins: SharedTransaction | None = None

    def unit_of_work(self, repository: Callable[[Connection], R]) -> UnitOfWork[R]:
        """A unit of work inside the consumer's transaction: its events are caused by this one."""
        origin = Origin(
            service=self.service,
            correlation_id=self.event.correlationid,
            causation_id=str(self.event.id),
            publishes=self.publishes,
        )
        return UnitOfWork(self.conn, repository=repository, origin=origin, joins=self.joins)


P = TypeVar("P", bound=EventPayload)
R = TypeVar("R")
Handler = Callable[[EventContext, Any], Awaitable[None]]


class EventRouter:
    """Maps event payload types to handlers: ``@router.on(CaseSubmittedV1)``.

    One handler may serve several types (``@router.on(A, B)``) when it treats them alike.
    """

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    @overload
    def on(self, payload_type: type[P], /) -> Callable[[Callable[[EventContext, P], Awaitable[None]]], Handler]: ...

    @overload  # several types: the handler takes their union, which the type checker cannot infer here
    def on(self, *payload_types: type[EventPayload]) -> Callable[[Handler], Handler]: ...

    def on(
        self, *payload_types: type[EventPayload]
    ) -> Callable[[Callable[[EventContext, Any], Awaitable[None]]], Handler]:
        def register(fn: Callable[[EventContext, Any], Awaitable[None]]) -> Handler:
            for payload_type in payload_types:
                if payload_type.event_type in self.handlers:
                    raise ValueError(f"two handlers for {payload_type.event_type}")
                self.handlers[payload_type.event_type] = fn
            return fn

        return register

    @property
    def payload_types(self) -> list[type[EventPayload]]:
        return [EVENT_TYPES[t] for t in sorted(self.handlers)]

    @property
    def topics(self) -> list[str]:
        """The topics to subscribe to: those the handled payload types travel on, so no handler is left unfed."""
        return sorted({t for p in self.payload_types for t in (p.topic, *p.previous_topics)})


class DeadLetterSink(Protocol):
    async def send(self, topic: str, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None: ...


def announces_dead_letter(source_topic: str) -> bool:
    """Whether a dead letter from ``source_topic`` is announced with DeadLetteredV1.

    Not one of the operations topic's own messages: a DeadLetteredV1 that cannot be handled must not announce
    itself again and again (a loop); it stays in the dead-letter table and on the service's dashboard.
    """
    return source_topic != DeadLetteredV1.topic


class HandlingFailed(Exception):
    """A replayed dead letter failed again."""


@dataclass(frozen=True)
class _Run:
    """How far one run's transaction got: ``records[:end]`` are done (committed, skipped); whether ``records[end]``
    must now be handled alone (malformed, unknown type, or its handler raised ``failed`` in the run)."""

    end: int
    alone: bool = False
    failed: Exception | None = None


class _Redo(Exception):
    """A fast run was rolled back at record ``index``: its handler raised ``error``, or (``error`` None) one of its
    use cases left without committing."""

    def __init__(self, index: int, error: Exception | None, event: CloudEvent) -> None:
        super().__init__(f"run rolled back at record {index}")
        self.index = index
        self.error = error
        self.event = event


@dataclass(frozen=True)
class PartitionResult:
    """What ``process_partition`` did with one partition's records."""

    # A prefix of the records, each committed to the database, skipped or dead-lettered: their offsets may be
    # committed to Kafka. The rest were not touched, or their transaction was rolled back.
    done: int
    # Why it stopped before the end (the database or the dead-letter topic failed); None when it did not or when
    # it was asked to stop.
    error: BaseException | None = None


@dataclass
class _Parsed:
    event: CloudEvent
    payload: EventPayload


@dataclass
class _Handled:
    """An event handled in a batch transaction, counted and logged once that transaction committed."""

    event: CloudEvent
    outcome: str
    seconds: float


def _never() -> bool:
    return False


@contextmanager
def _traced() -> Iterator[None]:
    """A fresh OpenTelemetry context for one event of a run: its span and statements are traced again, in its trace."""
    token = otel_context.attach(otel_context.Context())
    try:
        yield
    finally:
        otel_context.detach(token)


@dataclass
class EventConsumer:
    service: str
    router: EventRouter
    pool_provider: Callable[[], asyncpg.Pool]
    dead_letters: Callable[[], DeadLetterSink]
    dead_letter_topic: str
    publishes: Collection[type[EventPayload]] | None = None
    max_attempts: int = 5
    backoff_base_s: float = 0.2
    backoff_max_s: float = 5.0
    # Called after each database commit with the records it covered, before their offsets go to Kafka (the
    # fault tests kill the process there).
    on_committed: Callable[[Sequence[Record]], None] | None = None

    @property
    def name(self) -> str:
        return self.service

    async def process_partition(
        self, records: Sequence[Record], *, stopping: Callable[[], bool] = _never
    ) -> PartitionResult:
        """Handle one partition's records in offset order; see the module docstring.

        Runs of records that go well share one transaction; a record that cannot (malformed, or its handler
        raised) is handled alone after the run before it committed, so no transaction is held open through a
        retry's backoff. ``stopping`` is asked between events: when it says so (the partition is being revoked,
        the service stops), what is done is committed and the rest is left for whoever reads the partition next.
        Never raises but for cancellation: a failure of the infrastructure ends the partition's work with the
        ``error`` and ``done`` the committed prefix.
        """
        done = 0
        while done < len(records) and not stopping():
            try:
                run = await self._fast_run(records, done, stopping)
            except _Redo as redo:
                run = await self._careful_run_or_alone(records, done, stopping, redo)
            except Exception as exc:  # the run's transaction as a whole: a lost connection, a refused commit
                log.warning("batch transaction failed; its first record is handled alone", error=repr(exc))
                run = _Run(done, alone=True)
            if run.end > done:
                self._committed(records[done : run.end])
                done = run.end
            if done == len(records) or not run.alone or (run.failed is None and stopping()):
                continue
            try:
                await self.process(records[done], failed=run.failed)
            except Exception as exc:
                log.error("partition stopped; its records from here are delivered again", error=repr(exc))
                return PartitionResult(done=done, error=exc)
            self._committed(records[done : done + 1])
            done += 1
        return PartitionResult(done=done)

    async def _careful_run_or_alone(
        self, records: Sequence[Record], start: int, stopping: Callable[[], bool], redo: _Redo
    ) -> _Run:
        """After a fast run was rolled back at ``redo.index``: the records before it again, each in a savepoint; then
        the one that raised is handled alone (its try in the fast run was its first attempt), while one whose use
        case left without committing is done inside the careful run, where its savepoint undoes what it did."""
        if redo.error is None:
            # Not a failure, but each one costs its run a second pass: worth seeing if a use case does it often.
            log.info(
                "a use case left without commit; its run is done again with savepoints",
                case_id=redo.event.subject,
                correlation_id=redo.event.correlationid,
                event_type=redo.event.type,
            )
        until = redo.index + 1 if redo.error is None else redo.index
        try:
            run = await self._careful_run(records, start, stopping, until=until) if until > start else _Run(start)
        except Exception as exc:
            log.warning("batch transaction failed; its first record is handled alone", error=repr(exc))
            return _Run(start, alone=True)
        if redo.error is not None and run.end == redo.index and not run.alone:
            return _Run(run.end, alone=True, failed=redo.error)
        return run

    async def _fast_run(self, records: Sequence[Record], start: int, stopping: Callable[[], bool]) -> _Run:
        """One transaction over ``records[start:end]`` without a savepoint: the inbox claimed for the whole run in one
        round trip, each handler's units of work joined to the transaction (``SharedTransaction``), the run's
        outbox rows inserted in one round trip at the end.

        Stops before a record that must be handled alone (malformed, of an unknown type). If a handler raises, or a
        use case leaves without committing, the transaction is rolled back and ``_Redo`` says where; an
        infrastructure failure propagates. Either way nothing of the run is committed.
        """
        parsed: list[_Parsed] = []
        end = start
        while end < len(records):
            one = self._parse(records[end])
            if one is None:
                break
            parsed.append(one)
            end += 1
        alone = end < len(records)
        if not parsed:
            return _Run(start, alone=alone)
        handled: list[_Handled] = []
        shared = SharedTransaction()
        claims: dict[uuid.UUID, InboxClaim] = {}
        for p in parsed:
            if p.event.type in self.router.handlers and p.event.id not in claims:
                claims[p.event.id] = InboxClaim(p.event.id, p.event.type, p.event.subject, p.event.correlationid)
        # The run's own statements (BEGIN, COMMIT, the claims, the outbox) belong to no one event's trace.
        with tracing.quietly():
            async with self.pool_provider().acquire() as conn, conn.transaction():
                new = await ReliabilityRepository(conn).claim_inbox_many(
                    consumer=self.name, events=list(claims.values())
                )
                for offset, p in enumerate(parsed):
                    if stopping():
                        # The rest was claimed with the run but is left for the partition's next reader.
                        await ReliabilityRepository(conn).release_inbox_claims(consumer=self.name, event_ids=new)
                        end = start + offset
                        alone = False
                        break
                    event = p.event
                    handler = self.router.handlers.get(event.type)
                    if handler is None:
                        handled.append(_Handled(event, "ignored", 0.0))
                        continue
                    if event.id not in new:
                        handled.append(_Handled(event, "duplicate", 0.0))
                        continue
                    new.discard(event.id)  # the same event again later in the run is a duplicate
                    with (
                        _traced(),
                        self._span(records[start + offset], event) as current,
                        bind_event_context(
                            case_id=event.subject, correlation_id=event.correlationid, event_type=event.type
                        ),
                    ):
                        started = time.perf_counter()
                        try:
                            await handler(self._context(conn, event, joins=shared), p.payload)
                        except INFRASTRUCTURE_ERRORS:
                            raise
                        except Exception as exc:
                            current.set_attribute("kipina.outcome", "retried_alone")
                            raise _Redo(start + offset, exc, event) from exc
                        if shared.spoilt:
                            current.set_attribute("kipina.outcome", "done_again")
                            raise _Redo(start + offset, None, event)
                        current.set_attribute("kipina.outcome", "handled")
                    handled.append(_Handled(event, "handled", time.perf_counter() - started))
                await outbox.enqueue_many(conn, shared.outbox)
                committing = time.perf_counter()
        self._counted(handled, commit_s=time.perf_counter() - committing)
        return _Run(end, alone=alone)

    async def _careful_run(
        self, records: Sequence[Record], start: int, stopping: Callable[[], bool], *, until: int
    ) -> _Run:
        """One transaction over ``records[start:end]`` (``end <= until``), each event in its own savepoint.

        Stops before a record that must be handled alone: malformed, of an unknown type, or whose handler raised
        (its savepoint rolled back, the error returned). An infrastructure failure propagates: nothing is committed.
        """
        handled: list[_Handled] = []
        end = start
        failed: Exception | None = None
        alone = False
        # The run's own statements (BEGIN, COMMIT, the connection's reset) belong to no one event's trace.
        with tracing.quietly():
            async with self.pool_provider().acquire() as conn, conn.transaction():
                while end < until and not stopping():
                    record = records[end]
                    parsed = self._parse(record)
                    if parsed is None:
                        alone = True
                        break  # dead-lettered alone, after this run committed: in order
                    event, payload = parsed.event, parsed.payload
                    handler = self.router.handlers.get(event.type)
                    if handler is None:
                        handled.append(_Handled(event, "ignored", 0.0))
                        end += 1
                        continue
                    with (
                        _traced(),
                        self._span(record, event) as current,
                        bind_event_context(
                            case_id=event.subject, correlation_id=event.correlationid, event_type=event.type
                        ),
                    ):
                        started = time.perf_counter()
                        try:
                            async with conn.transaction():  # a savepoint: a failing handler takes only itself down
                                outcome = await self._claim_and_handle(conn, event, payload, handler)
                        except INFRASTRUCTURE_ERRORS:
                            raise
                        except Exception as exc:
                            current.set_attribute("kipina.outcome", "retried_alone")
                            failed = exc
                            alone = True
                            break
                        current.set_attribute("kipina.outcome", outcome)
                    handled.append(_Handled(event, outcome, time.perf_counter() - started))
                    end += 1
                committing = time.perf_counter()
        self._counted(handled, commit_s=time.perf_counter() - committing)
        return _Run(end, alone=alone, failed=failed)

    def _counted(self, handled: Sequence[_Handled], *, commit_s: float) -> None:
        for item in handled:
            self._count(item.event, item.outcome, item.seconds + commit_s if item.outcome != "ignored" else None)

    def _context(self, conn: Connection, event: CloudEvent, *, joins: SharedTransaction | None = None) -> EventContext:
        return EventContext(conn=conn, event=event, service=self.service, publishes=self.publishes, joins=joins)

    def _committed(self, records: Sequence[Record]) -> None:
        if self.on_committed is not None:
            self.on_committed(records)

    def _count(self, event: CloudEvent, outcome: str, seconds: float | None) -> None:
        """The metrics and log line of one event whose transaction committed."""
        EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
        if seconds is not None:
            EVENT_HANDLING_SECONDS.labels(self.name, event.type).observe(seconds)
        if outcome == "handled":
            # One line per event at DEBUG only: at INFO a line costs about 70 µs of CPU (docs/PERFORMANCE.md).
            log.debug("event handled", case_id=event.subject, correlation_id=event.correlationid, event_type=event.type)
        elif outcome == "duplicate":
            log.info(
                "event already handled; skipped",
                outcome=outcome,
                case_id=event.subject,
                correlation_id=event.correlationid,
                event_type=event.type,
            )

    def _parse(self, record: Record) -> _Parsed | None:
        """The record's event, or None if it is malformed or of an unknown type."""
        try:
            event = parse_event(record.value or b"")
            return _Parsed(event, event.payload())
        except (ValidationError, ValueError, UnknownEventType):
            return None

    def _span(self, record: Record, event: CloudEvent) -> AbstractContextManager[Span]:
        return tracing.span(
            f"{record.topic} process",
            kind=SpanKind.CONSUMER,
            traceparent=event.traceparent,
            tracestate=event.tracestate,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.name,
                "kipina.service": self.service,
                "cloudevents.event_type": event.type,
                "cloudevents.event_subject": event.subject,
            },
        )

    async def process(self, record: Record, *, failed: Exception | None = None) -> None:
        """Handle one record alone. Returns when it is done (handled, skipped or dead-lettered).

        ``failed``: its handler already raised this once (in a batch); that was its first attempt.
        """
        raw = record.value or b""
        try:
            event = parse_event(raw)
            payload = event.payload()
        except (ValidationError, ValueError, UnknownEventType) as exc:
            reason = "unknown_type" if isinstance(exc, UnknownEventType) else "malformed"
            await self._dead_letter(record, error=f"{reason}: {exc}", attempts=0, reason=reason, event=None)
            return

        handler = self.router.handlers.get(event.type)
        with (
            self._span(record, event) as current,
            bind_event_context(case_id=event.subject, correlation_id=event.correlationid, event_type=event.type),
        ):
            if handler is None:  # a type on the topic this service has no use for
                current.set_attribute("kipina.outcome", "ignored")
                EVENTS_CONSUMED.labels(self.name, event.type, "ignored").inc()
                return
            await self._handle_with_retries(record, event, payload, handler, failed=failed)

    async def _handle_with_retries(
        self,
        record: Record,
        event: CloudEvent,
        payload: EventPayload,
        handler: Handler,
        *,
        failed: Exception | None = None,
    ) -> None:
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                if attempt == 1 and failed is not None:
                    raise failed  # the try in the batch was the first attempt
                outcome = await self._handle_once(event, payload, handler)
            except Exception as exc:
                infrastructure = isinstance(exc, INFRASTRUCTURE_ERRORS)
                if attempt == self.max_attempts:
                    if infrastructure:
                        log.error("infrastructure failure; message left unacked for redelivery", error=repr(exc))
                        raise
                    await self._dead_letter(
                        record,
                        error=f"{type(exc).__name__}: {exc}",
                        attempts=attempt,
                        reason="handler_error",
                        event=event,
                    )
                    return
                HANDLER_RETRIES.labels(self.name).inc()
                delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
                log.warning("handler failed; retrying", attempt=attempt, error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            self._count(event, outcome, time.perf_counter() - started)
            return

    async def _handle_once(self, event: CloudEvent, payload: EventPayload, handler: Handler) -> str:
        async with self.pool_provider().acquire() as conn, conn.transaction():
            return await self._claim_and_handle(conn, event, payload, handler)

    async def _claim_and_handle(
        self, conn: Connection, event: CloudEvent, payload: EventPayload, handler: Handler
    ) -> str:
        """Inside a transaction: claim the event in the inbox, then run its handler. The outcome."""
        claimed = await inbox.claim(
            conn,
            consumer=self.name,
            event_id=event.id,
            event_type=event.type,
            subject=event.subject,
            correlation_id=event.correlationid,
        )
        if not claimed:
            return "duplicate"
        await handler(self._context(conn, event), payload)
        return "handled"

    async def _dead_letter(
        self, record: Record, *, error: str, attempts: int, reason: str, event: CloudEvent | None
    ) -> None:
        headers = [
            *[(k, v) for k, v in record.headers if not k.startswith("dlq-")],
            ("dlq-source-topic", record.topic.encode()),
            ("dlq-source-partition", str(record.partition).encode()),
            ("dlq-source-offset", str(record.offset).encode()),
            ("dlq-consumer", self.name.encode()),
            ("dlq-reason", reason.encode()),
            ("dlq-error", error[:4000].encode()),
            ("dlq-attempts", str(attempts).encode()),
        ]
        await self.dead_letters().send(
            self.dead_letter_topic, key=record.key, value=record.value or b"", headers=headers
        )
        async with self.pool_provider().acquire() as conn, conn.transaction():
            dead_letter_id = await ReliabilityRepository(conn).record_dead_letter(
                consumer=self.name,
                source_topic=record.topic,
                source_partition=record.partition,
                source_offset=record.offset,
                message_key=record.key,
                payload=record.value or b"",
                headers=[(k, v.decode(errors="replace")) for k, v in record.headers],
                event_id=str(event.id) if event else None,
                event_type=event.type if event else None,
                error=error[:4000],
                attempts=attempts,
            )
            if announces_dead_letter(record.topic):
                await outbox.enqueue(
                    conn,
                    self._dead_lettered(
                        record, dead_letter_id, error=error, reason=reason, attempts=attempts, event=event
                    ),
                    topic=DeadLetteredV1.topic,
                )
        DEAD_LETTERS.labels(self.name, reason).inc()
        EVENTS_CONSUMED.labels(self.name, event.type if event else "unknown", "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            reason=reason,
            error=error[:500],
            attempts=attempts,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
        )

    def _dead_lettered(
        self, record: Record, dead_letter_id: int, *, error: str, reason: str, attempts: int, event: CloudEvent | None
    ) -> CloudEvent:
        """The announcement of a dead letter, for operators; caused by the message when it could be read."""
        return new_event(
            DeadLetteredV1(
                service=self.service,
                dead_letter_id=dead_letter_id,
                source_topic=record.topic,
                source_partition=record.partition,
                source_offset=record.offset,
                event_type_seen=event.type if event else None,
                reason=reason,
                error=error[:500],
                attempts=attempts,
            ),
            service=self.service,
            correlation_id=event.correlationid if event else f"dead-letter:{self.service}:{dead_letter_id}",
            causation_id=str(event.id) if event else None,
            traceparent=event.traceparent if event else None,
            tracestate=event.tracestate if event else None,
        )

    async def replay(self, dead_letter_id: int) -> str:
        """Handle a stored dead letter again, in-process (only this consumer sees it again).

        Returns the outcome; raises ``LookupError`` if unknown, ``HandlingFailed`` if it fails again.
        """
        repo = ReliabilityRepository(self.pool_provider())
        dead_letter = await repo.dead_letter(dead_letter_id, consumer=self.name)
        if dead_letter is None:
            raise LookupError(dead_letter_id)
        try:
            event = parse_event(dead_letter.payload)
            payload = event.payload()
        except (ValidationError, ValueError) as exc:
            raise HandlingFailed(f"still malformed: {exc}") from exc
        handler = self.router.handlers.get(event.type)
        if handler is None:
            raise HandlingFailed(f"no handler for {event.type}")
        with (
            tracing.span("dead letter replay", traceparent=event.traceparent, tracestate=event.tracestate),
            bind_event_context(case_id=event.subject, correlation_id=event.correlationid, replay_of=dead_letter_id),
        ):
            try:
                outcome = await self._handle_once(event, payload, handler)
            except Exception as exc:
                raise HandlingFailed(f"{type(exc).__name__}: {exc}") from exc
            await repo.mark_replayed(dead_letter_id)
            log.info("dead letter replayed", outcome=outcome)
        return outcome


def new_correlation_id() -> str:
    return str(uuid.uuid4())

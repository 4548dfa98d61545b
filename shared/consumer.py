"""Reliable event consumption: inbox → domain change → outbox in one transaction, retries, dead letters.

A service declares its handlers on an ``EventRouter`` (the topics it subscribes to follow from
the payload types it handles); ``EventConsumer.process`` applies the reliability protocol
(docs/design.md) to one Kafka record:

1. Parse the CloudEvents envelope and its typed payload. A malformed message, or
   an event type no contract knows, goes to the dead-letter topic at once.
   A known type this service has no handler for is skipped (acked).
2. In one transaction: claim the event in the inbox (already there → skip),
   run the handler, which changes the domain and enqueues follow-up events through a
   unit of work on that transaction (``EventContext.unit_of_work``, a savepoint).
3. A failing handler is retried with exponential backoff, ``max_attempts`` times
   in all; then the message is dead-lettered and the partition moves on.
   A lost database connection is not the message's fault: after the retries it
   propagates, the message is not acked and Kafka delivers it again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload

import asyncpg
from opentelemetry.trace import SpanKind
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
from shared.repository import ReliabilityRepository
from shared.uow import Origin, UnitOfWork

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

    def unit_of_work(self, repository: Callable[[Connection], R]) -> UnitOfWork[R]:
        """A unit of work inside the consumer's transaction: its events are caused by this one."""
        origin = Origin(
            service=self.service,
            correlation_id=self.event.correlationid,
            causation_id=str(self.event.id),
            publishes=self.publishes,
        )
        return UnitOfWork(self.conn, repository=repository, origin=origin)


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

    @property
    def name(self) -> str:
        return self.service

    async def process(self, record: Record) -> None:
        """Handle one record. Returns when it is done (handled, skipped or dead-lettered)."""
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
            tracing.span(
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
            ) as current,
            bind_event_context(case_id=event.subject, correlation_id=event.correlationid, event_type=event.type),
        ):
            if handler is None:  # a type on the topic this service has no use for
                current.set_attribute("kipina.outcome", "ignored")
                EVENTS_CONSUMED.labels(self.name, event.type, "ignored").inc()
                return
            await self._handle_with_retries(record, event, payload, handler)

    async def _handle_with_retries(
        self, record: Record, event: CloudEvent, payload: EventPayload, handler: Handler
    ) -> None:
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
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
            EVENT_HANDLING_SECONDS.labels(self.name, event.type).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
            log.info("event handled" if outcome == "handled" else "event already handled; skipped", outcome=outcome)
            return

    async def _handle_once(self, event: CloudEvent, payload: EventPayload, handler: Handler) -> str:
        async with self.pool_provider().acquire() as conn, conn.transaction():
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
            await handler(EventContext(conn=conn, event=event, service=self.service, publishes=self.publishes), payload)
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

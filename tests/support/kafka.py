"""Talking to the real broker from tests: produce raw records, and watch a topic."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import (
    CONTENT_TYPE,
    CaseSnapshot,
    CaseSubmittedV1,
    CloudEvent,
    Contact,
    EventPayload,
    Organisation,
    new_event,
)
from shared.vocabulary import Category, IsoStage, Language


async def produce(
    bootstrap: str, topic: str, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value=value, key=key, headers=headers or [("content-type", CONTENT_TYPE.encode())]
        )
    finally:
        await producer.stop()


async def produce_event(bootstrap: str, event: CloudEvent, *, topic: str) -> None:
    await produce(bootstrap, topic, key=event.subject.encode(), value=event.to_bytes())


async def produce_events(bootstrap: str, events: Iterable[CloudEvent], *, topic: str) -> None:
    """Many events through one producer, in order, each keyed by its subject; returns once all are acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    try:
        for event in events:
            await producer.send(
                topic,
                value=event.to_bytes(),
                key=event.subject.encode(),
                headers=[("content-type", CONTENT_TYPE.encode())],
            )
        await producer.flush()
    finally:
        await producer.stop()


def make_event(payload: EventPayload, *, service: str, subject: str) -> CloudEvent:
    return new_event(payload, service=service, subject=subject, correlation_id=str(uuid.uuid4()))


def submitted(case_id: str, title: str, *, event_id: uuid.UUID | None = None) -> CloudEvent:
    snapshot = CaseSnapshot(
        case_id=uuid.UUID(case_id),
        call_id=uuid.uuid4(),
        call_title="Probe call",
        revision=1,
        title=title,
        summary="s" * 20,
        problem="p" * 20,
        solution="x" * 20,
        organisation=Organisation(id="org-1", name="Org", business_id="0112038-9"),
        submitter_id="u-1",
        submitter=Contact(name="Sub Mitter", email="sub@example.org", language=Language.FI),
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        iso_stage=IsoStage.CONCEPT,
    )
    return new_event(
        CaseSubmittedV1(case=snapshot),
        service="intake",
        subject=case_id,
        correlation_id=str(uuid.uuid4()),
        event_id=event_id,
    )


async def committed_offsets(bootstrap: str, group: str, *, topic: str) -> dict[TopicPartition, int]:
    """The group's committed offset of each of ``topic``'s partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=None)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items() if tp.topic == topic}


class TopicWatcher:
    """Collects every record that reaches the topics after it started."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self.records: list[ConsumerRecord[Any, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def _pump(self) -> None:
        async for record in self._consumer:
            self.records.append(record)

    async def caught_up(self, *, timeout: float = 60.0) -> None:
        """Wait until this watcher has read everything on its topics up to their end offsets as of now.

        The fact to wait for before asserting that something did *not* arrive: whatever was published
        before this call has been seen.
        """
        partitions = list(self._consumer.assignment())
        ends = await self._consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            positions = {tp: await self._consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"watcher did not reach the end offsets {ends} within {timeout}s: {positions}")
            await asyncio.sleep(0.05)

    def matching(self, predicate: Callable[[ConsumerRecord[Any, Any]], bool]) -> list[ConsumerRecord[Any, Any]]:
        return [r for r in self.records if predicate(r)]

    def events(self, *, subject: str | None = None, event_type: str | None = None) -> list[CloudEvent]:
        found = []
        for r in self.records:
            try:
                event = CloudEvent.model_validate_json(r.value)
            except Exception:
                continue
            if subject is not None and event.subject != subject:
                continue
            if event_type is not None and event.type != event_type:
                continue
            found.append(event)
        return found


@asynccontextmanager
async def watch(bootstrap: str, *topics: str) -> AsyncIterator[TopicWatcher]:
    """Watch ``topics`` from their current end; the partitions are assigned before this yields."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=f"test-watch-{uuid.uuid4().hex[:8]}", auto_offset_reset="latest"
    )
    await consumer.start()
    # Wait for the assignment and pin the current end offsets, so nothing produced after this is missed.
    while not consumer.assignment():
        await asyncio.sleep(0.05)
        await consumer.getmany(timeout_ms=50)
    ends = await consumer.end_offsets(list(consumer.assignment()))
    for tp, offset in ends.items():
        consumer.seek(tp, offset)
    watcher = TopicWatcher(consumer)
    watcher._task = asyncio.create_task(watcher._pump())
    try:
        yield watcher
    finally:
        watcher._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher._task
        await consumer.stop()


async def pin_group_to_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the current end offsets for a new consumer group, so it starts there instead of replaying history."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        described = await admin.describe_topics([t for t in topics if t in existing])
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    if not partitions:
        return
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()

"""Kafka plumbing: the batch consumer, the idempotent producer (outbox relay, dead letters), the FastStream broker.

``BatchConsumer`` is the services' consumer: a plain aiokafka loop that takes up to ``max_records``
records at a time, hands each partition's records to ``EventConsumer.process_partition`` (the
partitions of a batch concurrently, each on its own connection, each in offset order) and commits
the offsets once per batch, for each partition only past the records whose transactions
committed. A partition that stopped on a failure (the database is unreachable, the dead-letter topic
cannot be written) is sought back to its first record not done and delivered again. On a rebalance,
the revoked partitions' batch is finished (stopping at the next event) and its offsets committed
before the partitions go to another member. docs/design.md, "Taking events in batches".

The FastStream broker consumes nothing: it answers Kafka's readiness (``ping``) and, never started,
describes what a service consumes and publishes for its AsyncAPI document.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ConsumerStoppedError, IllegalStateError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from shared import registry, topics
from shared.consumer import PartitionResult
from shared.events import CONTENT_TYPE
from shared.logging import get_logger

log = get_logger(__name__)

EVENT_HEADERS = [("content-type", CONTENT_TYPE.encode())]


def create_broker(bootstrap: str, *, service: str) -> KafkaBroker:
    return KafkaBroker(
        # A list: FastStream hands a string to aiokafka as one server, so a cluster's "a:1,b:2,c:3" would not resolve.
        [server.strip() for server in bootstrap.split(",") if server.strip()],
        client_id=f"kipina-{service}",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        enable_idempotence=True,
        acks="all",
        allow_auto_create_topics=False,
        description=f"Kipinä {service} service events",
        # Through the root handler (structlog JSON); per-message lines at DEBUG, since the
        # consumer logs each handled event itself with its case and correlation ids.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


def consumer_group(service: str) -> str:
    return registry.consumer_group_of(service)


# One partition's records in offset order, and "stop at the next event": what ``EventConsumer.process_partition`` takes.
PartitionHandler = Callable[[Sequence[ConsumerRecord[bytes, bytes]], Callable[[], bool]], Awaitable[PartitionResult]]


class BatchConsumer:
    """The service's Kafka consumer: batches in, each partition handled in offset order, offsets committed per batch.

    Offsets are committed once per batch with explicit values: for each partition, just past the last record
    ``handle`` reports done (its transaction committed, or it was skipped or dead-lettered), never past a record it
    did not finish. A partition that stopped on an error is sought back to its first record not done, so the next
    batch delivers it again, after ``retry_after_s``. Whatever a crash leaves uncommitted in Kafka but committed in
    the database comes again and the inbox turns it away.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        service: str,
        group: str,
        topics: Sequence[str],
        handle: PartitionHandler,
        max_records: int = 500,
        retry_after_s: float = 0.5,
        drain_timeout_s: float = 30.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._service = service
        self._group = group
        self._topics = list(topics)
        self._handle_partition = handle
        self._max_records = max_records
        self._retry_after_s = retry_after_s
        self._drain_timeout_s = drain_timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[bool] | None = None
        self._stopping = False
        # True from a revocation until the next assignment, and when the service stops: partitions stop at the next
        # event and commit what they did.
        self._draining = False
        self.failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def health(self) -> tuple[bool, str | None]:
        """Whether the consumer loop runs (readiness), and if not why."""
        if self.running:
            return True, None
        return False, f"the event consumer is not running: {self.failure!r}" if self.failure else "not started"

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            client_id=f"kipina-{self._service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._max_records,
        )
        consumer.subscribe(self._topics, listener=_Handover(self))
        await consumer.start()
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="event-consumer")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        """Finish the batch in hand (to the next event), commit its offsets, leave the group."""
        self._stopping = True
        self._draining = True
        await self._drain()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()
            log.error("event consumer stopped", error=repr(self.failure))

    async def _drain(self) -> None:
        """Wait for the batch in hand; it stops at its next event and commits what it did."""
        inflight = self._inflight
        if inflight is None or inflight.done():
            return
        _, pending = await asyncio.wait([inflight], timeout=self._drain_timeout_s)
        if pending:  # a retry that does not end: leave its records to be delivered again (the inbox absorbs)
            log.warning("batch did not finish in time; cancelled, its uncommitted records come again")
            inflight.cancel()
            await asyncio.gather(inflight, return_exceptions=True)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping:
            try:
                batch = await consumer.getmany(timeout_ms=1000, max_records=self._max_records)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.error("Kafka error while fetching; trying again", error=repr(exc))
                await asyncio.sleep(self._retry_after_s)
                continue
            if not batch:
                continue
            # Shielded: cancelling the loop (stop) must not cut a transaction short; stop drains it instead.
            self._inflight = asyncio.ensure_future(self._handle(consumer, batch))
            stalled = await asyncio.shield(self._inflight)
            if stalled or self._draining:
                await asyncio.sleep(self._retry_after_s if stalled else 0.05)

    async def _handle(
        self, consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> bool:
        """Handle one batch; commit its offsets. True when a partition stopped on an error (back off, then retry)."""
        lanes = case_lanes(batch)
        results = await asyncio.gather(
            *(self._handle_partition(records, self._is_draining) for records in lanes), return_exceptions=True
        )
        offsets: dict[TopicPartition, int] = {}
        stalled = False
        for records, result in zip(lanes, results, strict=True):
            if isinstance(result, BaseException):  # a bug: what it did is unknown, so all of it comes again
                log.error("partition handling failed unexpectedly", partitions=_lane_name(records), error=repr(result))
                if isinstance(result, asyncio.CancelledError):
                    raise result
                done, stalled = 0, True
            else:
                done = result.done
                stalled = stalled or result.error is not None
            # The lane's first ``done`` records hold a prefix of each of its partitions' records (the merge keeps
            # each partition's order): commit past it, and seek back to the first record not done.
            finished_of = Counter((r.topic, r.partition) for r in records[:done])
            for tp, ordered in batch.items():
                if not ordered or tp.partition != records[0].partition:
                    continue
                finished = finished_of[(tp.topic, tp.partition)]
                if finished:
                    offsets[tp] = ordered[finished - 1].offset + 1
                if finished < len(ordered):
                    with contextlib.suppress(IllegalStateError):  # revoked meanwhile: its new owner starts there
                        consumer.seek(tp, ordered[finished].offset)
        if offsets:
            try:
                await consumer.commit(offsets)
            except (KafkaError, IllegalStateError) as exc:
                # Committed in the database, not in Kafka: delivered again later, and the inbox turns it away.
                log.warning("offsets not committed; their records may come again", error=repr(exc))
        return stalled

    def _is_draining(self) -> bool:
        return self._draining


class _Handover(ConsumerRebalanceListener):
    """Before partitions go to another member: finish the batch in hand and commit its offsets.

    aiokafka awaits this before it rejoins the group, and the group assigns no partition before every member has
    rejoined, so the next owner starts exactly where this one stopped. Should a member not make it in time
    (it is killed, it hangs past the rebalance timeout), the next owner starts at the last committed offsets and
    the inbox turns away what was done twice; each partition still goes in offset order on both.
    """

    def __init__(self, owner: BatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._owner._draining = True
        await self._owner._drain()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if not self._owner._stopping:
            self._owner._draining = False
        log.info("partitions assigned", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned))


class EventProducer:
    """An idempotent producer (``acks=all``) with the one operation the relay needs: publish a batch."""

    def __init__(self, bootstrap: str, *, service: str, request_timeout_ms: int = 15_000) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=f"kipina-{service}-producer",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=request_timeout_ms,
        )
        self._started = False

    async def start(self) -> None:
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def publish_batch(self, messages: Sequence[tuple[str, bytes, bytes]]) -> None:
        """Send (topic, key, value) messages in order and wait until Kafka acknowledged all of them."""
        futures = [
            await self._producer.send(topic, value=value, key=key, headers=EVENT_HEADERS)
            for topic, key, value in messages
        ]
        await asyncio.gather(*futures)

    async def send(self, topic: str, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)


async def ensure_topics(bootstrap: str, *, partitions: int = 6, names: Sequence[str] = topics.ALL_TOPICS) -> list[str]:
    """Create any missing topic; returns those created.

    On a cluster of three brokers or more, each partition is on three of them and a write needs two
    (``min.insync.replicas``, with the producers' ``acks=all``): one broker lost is not felt, nothing acknowledged
    is lost. On a single broker, one replica.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            brokers = len((await admin.describe_cluster())["brokers"])
            replication, configs = (3, {"min.insync.replicas": "2"}) if brokers >= 3 else (1, {})
            await admin.create_topics(
                [
                    NewTopic(name=n, num_partitions=partitions, replication_factor=replication, topic_configs=configs)
                    for n in missing
                ]
            )
        return missing
    finally:
        await admin.close()


def case_lanes(
    batch: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
) -> list[list[ConsumerRecord[bytes, bytes]]]:
    """The batch's records in lanes that may run concurrently: one lane per partition number.

    A case's events are keyed by its id, so on every topic (all have the same partition count, and the same
    partitioner) they are in the partition of the same number. A service that reads several topics (awards,
    notify) must not handle ``review.v1``'s partition 3 beside ``intake.v1``'s partition 3: a case's review event
    could overtake the submission that caused it. So the records of one partition number are one lane, merged in
    the order they were published (the record timestamp; ``heapq.merge`` keeps each partition's own offset order
    whatever the timestamps say), and handled one after the other.
    """
    by_number: dict[int, list[list[ConsumerRecord[bytes, bytes]]]] = {}
    for tp in sorted(batch, key=lambda t: (t.partition, t.topic)):
        if batch[tp]:
            by_number.setdefault(tp.partition, []).append(batch[tp])
    return [list(heapq.merge(*parts, key=lambda r: r.timestamp)) for _, parts in sorted(by_number.items())]


def _lane_name(records: Sequence[ConsumerRecord[bytes, bytes]]) -> str:
    return ",".join(sorted({f"{r.topic}:{r.partition}" for r in records}))

"""Consumer lag: how many messages a service's consumer group is behind the end of each topic partition."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.logging import get_logger
from shared.metrics import CONSUMER_LAG, CONSUMER_PARTITION_LAG

log = get_logger(__name__)


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # the group's committed offset; None when it has committed nothing there yet
    end: int  # the partition's end offset (the next message's)
    lag: int  # messages behind: end minus committed (minus the beginning when nothing is committed)


async def measure_partitions(
    bootstrap: str, *, group: str, topics: Sequence[str], timeout_s: float = 5.0
) -> list[PartitionLag]:
    """Per topic partition (in topic and partition order): the group's committed offset, the end, the lag.

    A partition where the group has committed nothing counts from its beginning: everything still there is behind.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(list(topics))
        partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        ends = await consumer.end_offsets(partitions)
        begins = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    measured = []
    for tp in sorted(partitions):
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        position = offset if offset is not None else begins[tp]
        measured.append(PartitionLag(tp.topic, tp.partition, offset, ends[tp], max(0, ends[tp] - position)))
    return measured


def per_topic(partitions: Sequence[PartitionLag], topics: Sequence[str]) -> dict[str, int]:
    """Messages behind per topic: its partitions' lag summed (0 for a topic without partitions)."""
    lag = dict.fromkeys(topics, 0)
    for p in partitions:
        lag[p.topic] = lag.get(p.topic, 0) + p.lag
    return lag


async def measure(bootstrap: str, *, group: str, topics: Sequence[str], timeout_s: float = 5.0) -> dict[str, int]:
    """Messages behind, per topic (``measure_partitions`` summed)."""
    return per_topic(await measure_partitions(bootstrap, group=group, topics=topics, timeout_s=timeout_s), topics)


async def watch(
    bootstrap: str,
    *,
    group: str,
    topics: Sequence[str],
    interval_s: float,
    latest: dict[str, int],
    partitions: list[PartitionLag],
) -> None:
    """Background job: keep ``latest`` (per topic), ``partitions`` and the lag gauges current."""
    while True:
        try:
            measured = await asyncio.wait_for(measure_partitions(bootstrap, group=group, topics=topics), interval_s)
        except Exception as exc:  # Kafka away or slow: keep the last figures, try again
            log.warning("consumer lag not measured", error=repr(exc))
        else:
            partitions[:] = measured
            latest.clear()
            latest.update(per_topic(measured, topics))
            for topic, behind in latest.items():
                CONSUMER_LAG.labels(group, topic).set(behind)
            for p in measured:
                CONSUMER_PARTITION_LAG.labels(group, p.topic, str(p.partition)).set(p.lag)
        await asyncio.sleep(interval_s)

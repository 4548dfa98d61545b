"""Consumer lag: how many messages a service's consumer group is behind the end of each topic."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.logging import get_logger
from shared.metrics import CONSUMER_LAG

log = get_logger(__name__)


async def measure(bootstrap: str, *, group: str, topics: Sequence[str], timeout_s: float = 5.0) -> dict[str, int]:
    """Messages behind, per topic: end offsets minus the group's committed offsets (all of a partition
    when the group has committed nothing there yet)."""
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
    lag = dict.fromkeys(topics, 0)
    for tp in partitions:
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else begins[tp]
        lag[tp.topic] += max(0, ends[tp] - position)
    return lag


async def watch(
    bootstrap: str, *, group: str, topics: Sequence[str], interval_s: float, latest: dict[str, int]
) -> None:
    """Background job: keep ``latest`` and the ``kipina_consumer_lag`` gauge current."""
    while True:
        try:
            measured = await asyncio.wait_for(measure(bootstrap, group=group, topics=topics), interval_s)
        except Exception as exc:  # Kafka away or slow: keep the last figures, try again
            log.warning("consumer lag not measured", error=repr(exc))
        else:
            latest.clear()
            latest.update(measured)
            for topic, behind in measured.items():
                CONSUMER_LAG.labels(group, topic).set(behind)
        await asyncio.sleep(interval_s)

"""Consumer lag per topic partition (shared/lag.py) against the real Kafka broker: a consumer group committed at
known offsets on a topic of three partitions is behind by exactly what is left in each."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared import lag
from shared.kafka import ensure_topics
from shared.lag import PartitionLag

pytestmark = pytest.mark.integration

# The tests' own topic of three partitions; only this test writes to it (earlier runs' messages stay before `start`).
TOPIC = "kipina.test.lag.v1"


async def test_lag_is_measured_per_partition_from_the_groups_committed_offsets(infra_env: dict[str, str]) -> None:
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    await ensure_topics(bootstrap, partitions=3, names=[TOPIC])
    partitions = [TopicPartition(TOPIC, p) for p in range(3)]
    group = f"kipina-lag-test-{uuid.uuid4().hex[:8]}"
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await committer.start()
    await producer.start()
    try:
        committer.assign(partitions)
        start = {tp.partition: offset for tp, offset in (await committer.end_offsets(partitions)).items()}
        begin = {tp.partition: offset for tp, offset in (await committer.beginning_offsets(partitions)).items()}
        for partition, messages in enumerate((5, 3, 4)):
            for n in range(messages):
                await producer.send_and_wait(TOPIC, f"m{n}".encode(), partition=partition)
        # Partition 0 read 2 of its 5 new messages, partition 1 all 3; partition 2 never committed.
        await committer.commit({partitions[0]: start[0] + 2, partitions[1]: start[1] + 3})
    finally:
        await producer.stop()
        await committer.stop()

    measured = await lag.measure_partitions(bootstrap, group=group, topics=[TOPIC])

    assert measured[:2] == [
        PartitionLag(TOPIC, 0, committed=start[0] + 2, end=start[0] + 5, lag=3),
        PartitionLag(TOPIC, 1, committed=start[1] + 3, end=start[1] + 3, lag=0),
    ]
    # Nothing committed: everything the partition still holds is behind.
    behind = start[2] + 4 - begin[2]
    assert measured[2] == PartitionLag(TOPIC, 2, committed=None, end=start[2] + 4, lag=behind)
    # The per-topic figure (kipina_consumer_lag, /ops/status) is their sum.
    assert lag.per_topic(measured, [TOPIC]) == {TOPIC: 3 + behind}
    assert await lag.measure(bootstrap, group=group, topics=[TOPIC]) == {TOPIC: 3 + behind}

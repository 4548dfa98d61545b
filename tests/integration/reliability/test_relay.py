"""Several outbox relays on one database publish every row once, and each case's events in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import outbox
from shared.db import apply_migrations, create_pool
from shared.events import CloudEvent
from shared.kafka import EventProducer, ensure_topics
from tests.support.harness import eventually
from tests.support.infra import reset_database
from tests.support.kafka import submitted
from tests.support.probe_service import PROBE_DLQ, PROBE_TOPIC

pytestmark = pytest.mark.integration

PROBE_MIGRATIONS = Path(__file__).resolve().parents[2] / "support" / "probe_migrations"
CASES, EVENTS_PER_CASE, RELAYS = 12, 25, 3


async def test_concurrent_relays_keep_each_case_in_order(infra_env, probe_db_url) -> None:
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    await ensure_topics(bootstrap, names=[PROBE_TOPIC, PROBE_DLQ])
    await reset_database(probe_db_url)
    await apply_migrations(probe_db_url, PROBE_MIGRATIONS)
    pool = await create_pool(probe_db_url, max_size=12)

    # Where the topic ends now: only what this test publishes is read back.
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    partitions = [TopicPartition(PROBE_TOPIC, p) for p in reader.partitions_for_topic(PROBE_TOPIC) or range(6)]
    reader.assign(partitions)
    start = await reader.end_offsets(partitions)

    cases = [str(uuid.uuid4()) for _ in range(CASES)]
    written: list[CloudEvent] = []
    async with pool.acquire() as conn, conn.transaction():
        for n in range(EVENTS_PER_CASE):  # interleaved, as concurrent requests would write them
            for case_id in cases:
                event = submitted(case_id, f"step {n:03d}")
                await outbox.enqueue(conn, event, topic=PROBE_TOPIC)
                written.append(event)

    producers = [EventProducer(bootstrap, service="probe") for _ in range(RELAYS)]
    relays = [
        outbox.OutboxRelay(pool, p.publish_batch, dsn=probe_db_url, batch_size=7, poll_interval_s=0.05)
        for p in producers
    ]
    for p in producers:
        await p.start()
    try:
        await asyncio.gather(*(r.start() for r in relays))

        async def all_published() -> bool:
            return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

        await eventually(all_published, timeout=60, what="every outbox row published")
    finally:
        for r in relays:
            await r.stop()
        for p in producers:
            await p.stop()
        await pool.close()

    for tp, offset in start.items():
        reader.seek(tp, offset)
    seen: dict[str, list[str]] = defaultdict(list)
    ids: list[str] = []
    try:
        while True:
            batch = await reader.getmany(timeout_ms=1500)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    event = CloudEvent.model_validate_json(record.value)
                    if event.subject in cases:
                        seen[event.subject].append(event.payload().case.title)  # type: ignore[attr-defined]
                        ids.append(str(event.id))
    finally:
        await reader.stop()

    assert len(ids) == len(written) == len(set(ids)), "every row published exactly once"
    for case_id in cases:
        titles = seen[case_id]
        assert titles == sorted(titles) and len(titles) == EVENTS_PER_CASE, f"{case_id} out of order: {titles}"


async def test_the_fault_hook_exits_after_the_nth_batch_is_on_kafka_before_its_rows_are_marked(
    probe_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KIPINA_FAULT_RELAY_EXIT_AFTER_PUBLISH (a test hook, docs/design.md) exits exactly between the broker's
    acknowledgement and the UPDATE: the batch was published and its rows are still pending, to be published again."""
    await reset_database(probe_db_url)
    await apply_migrations(probe_db_url, PROBE_MIGRATIONS)
    pool = await create_pool(probe_db_url, max_size=4)
    case_id = str(uuid.uuid4())
    async with pool.acquire() as conn, conn.transaction():
        for n in range(4):
            await outbox.enqueue(conn, submitted(case_id, f"step {n}"), topic=PROBE_TOPIC)
    published: list[int] = []

    async def publish(batch: object) -> None:
        published.append(len(batch))  # type: ignore[arg-type]

    class Exited(Exception):
        pass

    def exit_now(code: int) -> None:
        raise Exited(code)

    monkeypatch.setenv(outbox.FAULT_EXIT_AFTER_PUBLISH, "2")
    monkeypatch.setattr(outbox.os, "_exit", exit_now)
    relay = outbox.OutboxRelay(pool, publish, dsn=probe_db_url, batch_size=2)
    try:
        assert await relay.relay_once() == 2
        with pytest.raises(Exited) as exited:
            await relay.relay_once()
        assert exited.value.args == (outbox.FAULT_EXIT_CODE,)
        assert published == [2, 2]  # the second batch reached the broker …
        pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert pending == 2  # … and its rows were not marked: a relay publishes them again
    finally:
        await pool.close()

"""The single broker away: an outbox row committed while Kafka is down is published once Kafka is back (exactly one
copy); and the broker SIGKILLed and restarted while cases flow through the whole lifecycle loses and doubles
nothing a person sees (every case at its final state once, every notification once)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from shared import outbox
from shared.db import apply_migrations, create_pool
from shared.kafka import EventProducer, ensure_topics
from tests.faults.flow import flowing
from tests.support.harness import eventually
from tests.support.infra import reset_database
from tests.support.kafka import submitted
from tests.support.probe_service import PROBE_DLQ, PROBE_TOPIC
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

PROBE_MIGRATIONS = Path(__file__).resolve().parents[1] / "support" / "probe_migrations"


async def count_on_topic(bootstrap: str, topic: str, event_id: uuid.UUID) -> int:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        found = 0
        while True:
            batch = await consumer.getmany(timeout_ms=1500)
            if not batch:
                return found
            for records in batch.values():
                found += sum(1 for r in records if str(event_id).encode() in (r.value or b""))
    finally:
        await consumer.stop()


async def test_outbox_row_committed_during_kafka_outage_is_published_after(
    infra_env, probe_db_url, reliability: Reliability
) -> None:
    scenario = reliability.row("Faults", "the broker stopped while an outbox row is committed; published once after")
    scenario.cases_driven = 1
    from deploy import local

    settings = local.load_settings()
    if not settings.manage_kafka:
        pytest.skip("Kafka is external (KIPINA_KAFKA_BOOTSTRAP); this test stops and starts the local broker")
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    await ensure_topics(bootstrap, names=[PROBE_TOPIC, PROBE_DLQ])
    await reset_database(probe_db_url)
    await apply_migrations(probe_db_url, PROBE_MIGRATIONS)
    pool = await create_pool(probe_db_url)
    producer = EventProducer(bootstrap, service="probe", request_timeout_ms=5000)
    await producer.start()
    relay = outbox.OutboxRelay(pool, producer.publish_batch, dsn=probe_db_url, poll_interval_s=0.5)
    await relay.start()
    event = submitted(str(uuid.uuid4()), "written while Kafka was down")
    try:
        await asyncio.to_thread(local.kafka_stop, settings)
        scenario.faults_injected += 1
        try:
            async with pool.acquire() as conn, conn.transaction():
                await outbox.enqueue(conn, event, topic=PROBE_TOPIC)

            async def failed_attempt() -> object:
                return await pool.fetchrow(
                    "SELECT published_at, attempts, last_error FROM outbox WHERE event_id = $1 AND attempts >= 1",
                    event.id,
                )

            # The relay keeps trying while the broker is away, and records each failure on the row.
            row = await eventually(failed_attempt, timeout=90, what="the relay's failed attempt recorded on the row")
            assert row["published_at"] is None
            assert row["last_error"], "the relay tried and recorded why it failed"
        finally:
            await asyncio.to_thread(local.kafka_start, settings)

        async def published() -> object:
            return await pool.fetchval("SELECT published_at FROM outbox WHERE event_id = $1", event.id)

        await eventually(published, timeout=90, what="outbox row published after Kafka came back")
    finally:
        await relay.stop()
        await producer.stop()
        await pool.close()
    on_topic = await count_on_topic(bootstrap, PROBE_TOPIC, event.id)
    scenario.cases_lost = int(on_topic == 0)
    scenario.duplicates_seen = max(0, on_topic - 1)
    assert on_topic == 1


async def test_broker_killed_and_restarted_mid_flow(infra_env, reliability: Reliability) -> None:
    from deploy import local

    settings = local.load_settings()
    if not settings.manage_kafka:
        pytest.skip("Kafka is external (KIPINA_KAFKA_BOOTSTRAP); this test kills and starts the local broker")
    row = reliability.row("Faults", "the single Kafka broker SIGKILLed and restarted mid-flow")
    cases, rate = (240, 4.0) if reliability.soak else (24, 1.5)
    async with flowing(cases=cases, rate=rate) as flow:
        row.cases_driven = cases
        at = await flow.when(
            lambda p: p.reached_review >= 3 and p.in_flight >= 3 and p.submitted <= cases * 2 // 3,
            what="cases in flight, some in review, a third still to be submitted",
        )
        await flow.outage(
            stop=lambda: local.kafka_stop(settings, force=True), start=lambda: local.kafka_start(settings), row=row
        )
        row.notes = f"at {at.describe()}"
        settled = await flow.settle(timeout=600 if reliability.soak else 240)
        verdict = await flow.verdict()
    verdict.record_and_check(row, cases=cases, settled=settled)

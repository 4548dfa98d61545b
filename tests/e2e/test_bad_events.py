"""Hostile events written straight to every topic while cases flow through the whole lifecycle.

The four services run as processes (bench/lifecycle.py's driver plays submitters, reviewers, jurors and the
operator through the public APIs). Once the call is open, every partition of every event topic gets one record of
each bad kind below, keyed apart from any case; while the cases flow, real events read off the topics are written
to them again, a few per topic (duplicates, same key and partition). Then:

- every consumer of a topic dead-lettered each bad record exactly once, with its reason (``malformed`` or
  ``unknown_type``), and nothing else: no real event of the run is in any service's dead letters;
- every case ended as its plan says, exactly once (published with its outcome, or rejected), and every submitter
  received exactly the messages their cases' fates give (a duplicate a person would see fails this).
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import lifecycle, pipeline
from shared import registry
from shared.events import CONTENT_TYPE
from tests.support.kafka import submitted
from tests.support.reliability import Reliability

pytestmark = pytest.mark.e2e

BASE_PORT = 18940
TOPICS = registry.EVENT_TOPICS
DUPLICATES_PER_TOPIC = 4


def _envelope(event_type: str, data: Any, **changes: Any) -> bytes:
    """A real event's envelope (every field a consumer checks) with another type and data."""
    envelope = json.loads(submitted(str(uuid.uuid4()), "hostile").to_bytes())
    envelope.update(type=event_type, data=data, **changes)
    return json.dumps(envelope).encode()


# kind → (its bytes, the reason every consumer must give)
BAD: dict[str, tuple[bytes, str]] = {
    "not_json": (b"\x00\x01 this is not JSON \xff\xfe", "malformed"),
    "truncated": (_envelope("kipina.case.submitted.v1", {"case": {}})[:60], "malformed"),
    "oversized": (_envelope("kipina.case.submitted.v1", {"padding": "x" * 400_000}), "malformed"),
    "wrongly_typed": (_envelope("kipina.case.submitted.v1", {"case": 42}), "malformed"),
    "wrong_specversion": (_envelope("kipina.case.withdrawn.v1", {}, specversion="0.3"), "malformed"),
    "unknown_type": (_envelope("kipina.case.teleported.v1", {}), "unknown_type"),
    "wrong_version": (_envelope("kipina.case.submitted.v9", {}), "unknown_type"),
}


def _consumed_topics() -> dict[str, list[str]]:
    """Each service's topics, from its own app (the consumer subscribes to what its handlers need)."""
    import importlib

    topics: dict[str, list[str]] = {}
    for part in registry.PARTS:
        app = importlib.import_module(f"services.{part.name}.app").create()
        consumer = app.state.runtime.consumer
        topics[part.name] = sorted(consumer.router.topics) if consumer is not None else []
    return topics


class Hostile:
    """What the test wrote: bad records by (topic, partition, kind), and the duplicated events' ids by topic."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.bad: dict[tuple[str, int, str], int] = {}  # → offset
        self.duplicated: dict[str, list[str]] = {t: [] for t in TOPICS}
        self.started: pipeline.Started | None = None

    async def run(self, started: pipeline.Started) -> None:
        self.started = started
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, max_request_size=2_000_000
        )
        # Read from the current end, so the duplicates are of this run's events.
        reader = AIOKafkaConsumer(*TOPICS, bootstrap_servers=self.bootstrap, auto_offset_reset="latest")
        await producer.start()
        await reader.start()
        try:
            await reader.getmany(timeout_ms=500)  # joined: positions at the end
            for topic in TOPICS:
                for partition in range(registry.TOPIC_PARTITIONS):
                    for kind, (value, _) in BAD.items():
                        sent = await producer.send_and_wait(
                            topic,
                            value=value,
                            key=f"hostile-{kind}".encode(),
                            partition=partition,
                            headers=[("content-type", CONTENT_TYPE.encode())],
                        )
                        self.bad[(topic, partition, kind)] = sent.offset
            while any(len(ids) < DUPLICATES_PER_TOPIC for ids in self.duplicated.values()):
                batches = await reader.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        if record.key is None or record.key.startswith(b"hostile-"):
                            continue
                        if len(self.duplicated[tp.topic]) >= DUPLICATES_PER_TOPIC:
                            continue
                        await producer.send_and_wait(
                            tp.topic,
                            value=record.value,
                            key=record.key,
                            partition=tp.partition,
                            headers=list(record.headers),
                        )
                        self.duplicated[tp.topic].append(json.loads(record.value)["id"])
        finally:
            await reader.stop()
            await producer.stop()


async def _rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_bad_and_duplicate_events_on_every_topic_are_absorbed_while_the_lifecycle_goes_on(
    reliability: Reliability, infra_env: dict[str, str]
) -> None:
    row = reliability.row(
        "Bad input",
        "malformed, oversized, wrongly typed, unknown-type, wrong-version and duplicate events on every topic",
    )
    cases = 60 if reliability.soak else 12
    consumed = _consumed_topics()
    hostile = Hostile(os.environ.get("KIPINA_KAFKA_BOOTSTRAP") or infra_env["KIPINA_KAFKA_BOOTSTRAP"])

    result = await lifecycle.run(cases, 3.0, base_port=BASE_PORT, seed=7, within_s=600, alongside=hostile.run)

    assert hostile.started is not None, "the services never came up"
    databases = hostile.started.databases
    row.cases_driven = cases
    row.faults_injected = len(hostile.bad) + sum(len(ids) for ids in hostile.duplicated.values())
    facts = result["facts"]
    row.cases_lost = facts["cases"] - facts["published_once_with_outcome"] - facts["rejected_once"]
    extra_messages = 0
    for heard in result["submitters"].values():
        extra_messages += sum((Counter(heard["heard"]) - Counter(heard["expected"])).values())
    row.duplicates_seen = extra_messages

    # The bad records: each consumer of each topic dead-lettered every one, once, with its reason; nothing else.
    for service, topics in consumed.items():
        rows = await _rows(
            databases[service],
            "SELECT source_topic, source_partition, source_offset, message_key, error FROM dead_letters",
        )
        found = Counter((r["source_topic"], r["source_partition"], r["source_offset"]) for r in rows)
        expected = {
            (topic, partition, offset): BAD[kind][1]
            for (topic, partition, kind), offset in hostile.bad.items()
            if topic in topics
        }
        assert set(found) == set(expected), f"{service}: dead letters other than the bad records, or some missing"
        assert all(n == 1 for n in found.values()), f"{service}: a record dead-lettered twice"
        for r in rows:
            reason = expected[(r["source_topic"], r["source_partition"], r["source_offset"])]
            assert r["error"].startswith(f"{reason}:"), (service, r["message_key"], r["error"])

    # The duplicates were written (the notify topic may carry none in a run); what they must not do is what a
    # person would see: a case decided twice, a message twice (the facts below).
    assert all(len(ids) == DUPLICATES_PER_TOPIC for t, ids in hostile.duplicated.items() if t != registry.NOTIFY.topic)

    assert facts["as_planned"], facts
    assert facts["submitters_heard_as_expected"], result["submitters"]
    assert row.cases_lost == 0 and row.duplicates_seen == 0

"""Outbox relays killed after Kafka accepted a batch and before its rows were marked published, while cases flow
through the whole lifecycle: the batch is published again, and the consumers absorb the duplicates.

Intake, review and awards each run a second instance (sharing the database and consumer group; the driver talks
to the first instances) whose relay has the test hook ``KIPINA_FAULT_RELAY_EXIT_AFTER_PUBLISH=1`` (shared/outbox.py):
the process exits at once after its relay's first batch is on Kafka, before the UPDATE that marks the rows. The
claiming transaction dies with it, so the rows are pending again and a relay (the first instance's, or the second
one restarted without the hook) publishes them again. Each killed instance is restarted as soon as it is seen dead
(a fact: its process exited with the hook's code), and the flow goes on; the long size arms the hook again on the
first two restarts, so each relay dies there up to three times. Then:

- the duplicates really are on the topics: some of this run's events (the three services' outbox rows) are on their
  topic more than once, and the consumers turned them away (``event already handled; skipped`` in their logs, for
  this run's cases) — without that the test would prove nothing;
- every outbox row of the run is published, and on its topic at least once;
- every case ended as planned exactly once, in order, and nobody received a message twice while every submitter
  heard exactly their cases' messages.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import lifecycle, pipeline
from shared import registry
from shared.outbox import FAULT_EXIT_AFTER_PUBLISH, FAULT_EXIT_CODE
from tests.faults.lifecycle_faults import case_ids, cases_lost, duplicates_seen, json_lines, out_of_order, rows
from tests.support.harness import eventually
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

BASE_PORT = 18980
RELAYS = ("intake", "review", "awards")  # whose events other services consume (nobody consumes notify's)
TOPIC_OF = {p.name: p.topic for p in registry.PARTS}


class KillRelays:
    """Waits for each hooked second instance to exit after its first batch and starts it again: with the hook for
    ``rounds`` - 1 more deaths, then without it. A round the flow ends before is not reached (the run cancels it)."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.started: pipeline.Started | None = None
        self.exits: dict[str, list[int | None]] = {name: [] for name in RELAYS}

    async def run(self, started: pipeline.Started) -> None:
        self.started = started
        await asyncio.gather(*(self._one(started, name) for name in RELAYS))

    async def _one(self, started: pipeline.Started, name: str) -> None:
        for n in range(1, self.rounds + 1):
            process = started.seconds[name]

            async def exited(process: subprocess.Popen[bytes] = process) -> bool:
                return process.poll() is not None

            await eventually(exited, timeout=300, interval=0.1, what=f"{name}'s second instance exiting after a batch")
            self.exits[name].append(process.returncode)
            # No override: the hook armed again, as at the first start; "": never.
            try:
                await started.start_second(name, extra_env={} if n < self.rounds else {FAULT_EXIT_AFTER_PUBLISH: ""})
            except RuntimeError:
                # Armed again, it can publish pending rows and die there before it answers as ready: next round.
                if n == self.rounds or started.seconds[name].poll() != FAULT_EXIT_CODE:
                    raise


async def on_topic(bootstrap: str, topic: str, wanted: set[str]) -> Counter[str]:
    """How often each of ``wanted`` event ids is on ``topic``, from its beginning to its end now."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        if not partitions:
            partitions = [TopicPartition(topic, p) for p in range(registry.TOPIC_PARTITIONS)]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        seen: Counter[str] = Counter()

        async def behind() -> bool:
            return any([await reader.position(tp) < end for tp, end in ends.items()])

        while await behind():
            batches = await reader.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    try:
                        event_id = str(json.loads(record.value)["id"])
                    except (ValueError, KeyError, TypeError):
                        continue  # another test's hostile record
                    if event_id in wanted:
                        seen[event_id] += 1
        return seen
    finally:
        await reader.stop()


async def test_relay_killed_after_publishing_before_marking_duplicates_are_absorbed(
    reliability: Reliability, infra_env: dict[str, str]
) -> None:
    row = reliability.row(
        "Faults", "outbox relays killed after publishing, before marking the rows published (intake, review, awards)"
    )
    cases = 80 if reliability.soak else 24
    fault = KillRelays(rounds=3 if reliability.soak else 1)
    result = await lifecycle.run(
        cases,
        2.0,
        base_port=BASE_PORT,
        seed=13,
        within_s=900,
        alongside=fault.run,
        extra_env={"KIPINA_LOG_LEVEL": "INFO"},  # the consumers' "already handled; skipped" lines
        second_instances={name: {FAULT_EXIT_AFTER_PUBLISH: "1"} for name in RELAYS},
    )
    assert fault.started is not None
    started = fault.started
    ids = {str(c) for c in case_ids(result)}
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    duplicated: dict[str, int] = {}
    for name in RELAYS:
        # Every row: the run's databases were emptied for it (a call's events are keyed by the call, not a case).
        outbox = await rows(started.databases[name], "SELECT event_id::text, published_at FROM outbox")
        assert outbox, f"{name} emitted nothing"
        unpublished = [r["event_id"] for r in outbox if r["published_at"] is None]
        assert not unpublished, f"{name}: outbox rows never published: {unpublished[:3]}"
        seen = await on_topic(bootstrap, TOPIC_OF[name], {r["event_id"] for r in outbox})
        missing = [r["event_id"] for r in outbox if seen[r["event_id"]] == 0]
        assert not missing, f"{name}: events of the outbox not on {TOPIC_OF[name]}: {missing[:3]}"
        duplicated[name] = sum(1 for n in seen.values() if n > 1)
    assert started.logs is not None
    skipped = sum(
        1
        for part in registry.PARTS
        for line in json_lines(started.logs / f"{part.name}.log")
        if line.get("event") == "event already handled; skipped" and line.get("case_id") in ids
    )

    row.cases_driven = cases
    row.faults_injected = sum(len(codes) for codes in fault.exits.values())
    row.cases_lost = cases_lost(result)
    row.duplicates_seen = duplicates_seen(result)
    row.notes = f"{sum(duplicated.values())} events on their topic twice, {skipped} turned away by consumers"

    assert all(codes and set(codes) == {FAULT_EXIT_CODE} for codes in fault.exits.values()), (
        f"not every hooked relay died there: {fault.exits}"
    )
    assert all(n > 0 for n in duplicated.values()), f"no duplicates on some topic: the test proves nothing {duplicated}"
    assert skipped > 0, "no consumer met a duplicate"
    assert not out_of_order(result), out_of_order(result)
    assert result["facts"]["as_planned"], result["facts"]
    assert result["deliveries"]["repeated"] == {"same_delivery": 0, "same_message_to_one_person": 0}
    assert result["facts"]["submitters_heard_as_expected"], json.dumps(result["submitters"])
    assert row.cases_lost == 0 and row.duplicates_seen == 0

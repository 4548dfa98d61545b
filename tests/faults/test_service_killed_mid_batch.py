"""A real service (review) is SIGKILLed in the middle of a batch, then restarted: nothing is lost, nothing done twice.

Every case has two events on its partition, submitted then withdrawn, all produced before review starts, so it
takes them in large batches. The kill comes while some events are committed in review's database but their offsets
are not yet committed in Kafka (the batch is not finished), after earlier batches were. Afterwards:

- every event is in review's inbox exactly once, and every case is in its final state (withdrawn: the withdrawal
  was handled after the submission, so each partition kept its order across the kill);
- every case has exactly one iteration, one review task and one iteration_opened event in the outbox;
- exactly the events that were committed in the database but not in Kafka at the kill came again after the
  restart, and the inbox turned each of them away once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid

import asyncpg
import pytest
from aiokafka import TopicPartition

from deploy.stack import start_service, stop_process, wait_ready
from shared import topics
from shared.events import CaseWithdrawnV1, IterationOpenedV1, new_event
from tests.faults.test_kill_after_commit import free_port
from tests.support.harness import eventually
from tests.support.infra import database_env_name, own_database, reset_database, unique_group
from tests.support.kafka import committed_offsets, produce_events, submitted
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

CASES = 600
EVENTS = 2 * CASES


def records_between(start: dict[TopicPartition, int], now: dict[TopicPartition, int]) -> int:
    return sum(offset - start.get(tp, offset) for tp, offset in now.items())


async def test_review_killed_mid_batch_loses_nothing_and_does_nothing_twice(
    infra_env, tmp_path, reliability: Reliability
) -> None:
    row = reliability.row("Faults", "review SIGKILLed inside a batch (committed in the database, not in Kafka)")
    row.cases_driven = CASES
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    db_url = await own_database(infra_env, "review", "fault_review_batch")
    await reset_database(db_url)
    group = unique_group("fault-review-batch")  # pinned to the end of the topics: it sees only what follows
    start_offsets = await committed_offsets(bootstrap, group, topic=topics.INTAKE)
    env = {
        **os.environ,
        database_env_name("review"): db_url,
        "KIPINA_REVIEW_CONSUMER_GROUP": group,
        "KIPINA_REVIEW_PORT": str(free_port()),
        # Several batches for the events: some are committed in Kafka before the kill, one is in flight.
        "KIPINA_REVIEW_CONSUMER_MAX_RECORDS": "200",
    }
    url = f"http://127.0.0.1:{env['KIPINA_REVIEW_PORT']}"
    log = tmp_path / "review.log"
    case_ids = [str(uuid.uuid4()) for _ in range(CASES)]
    events = []
    for case_id in case_ids:
        first = submitted(case_id, f"case {case_id[:8]}")
        withdrawn = new_event(
            CaseWithdrawnV1(case_id=uuid.UUID(case_id), call_id=first.payload().case.call_id, reason="batch"),
            service="intake",
            subject=case_id,
            correlation_id=first.correlationid,
        )
        events += [first, withdrawn]
    event_ids = [event.id for event in events]
    await produce_events(bootstrap, events, topic=topics.INTAKE)

    conn = await asyncpg.connect(db_url)
    service = start_service("review", env=env, log_path=log)
    try:

        async def inbox_count() -> int:
            try:
                return int(
                    await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", event_ids)
                )
            except asyncpg.UndefinedTableError:  # not migrated yet
                return 0

        async def mid_batch() -> bool:
            """Some batches committed in Kafka, and events of the next done in the database but not in Kafka."""
            done = await inbox_count()
            if not EVENTS // 4 <= done <= EVENTS * 8 // 10:
                return False
            committed = records_between(start_offsets, await committed_offsets(bootstrap, group, topic=topics.INTAKE))
            return 0 < committed < done

        await eventually(mid_batch, timeout=120, interval=0.02, what="review in the middle of a batch")
        os.killpg(service.pid, signal.SIGKILL)
        row.faults_injected += 1
        service.wait(timeout=30)
        done_at_kill = await inbox_count()
        committed_at_kill = records_between(
            start_offsets, await committed_offsets(bootstrap, group, topic=topics.INTAKE)
        )
        assert 0 < done_at_kill < EVENTS, "the kill did not come half-way through the events"
        assert 0 < committed_at_kill < done_at_kill, "the kill did not come inside a batch: the test proves nothing"

        service = start_service("review", env=env, log_path=log)
        await asyncio.to_thread(wait_ready, url, timeout=120, process=service)

        async def all_withdrawn() -> bool:
            withdrawn = await conn.fetchval(
                "SELECT count(*) FROM cases WHERE case_id = ANY($1::uuid[]) AND status = 'withdrawn'",
                [uuid.UUID(c) for c in case_ids],
            )
            return bool(withdrawn == CASES)

        await eventually(all_withdrawn, timeout=180, what=f"all {CASES} cases withdrawn")

        async def offsets_caught_up() -> bool:
            return (
                records_between(start_offsets, await committed_offsets(bootstrap, group, topic=topics.INTAKE)) == EVENTS
            )

        await eventually(offsets_caught_up, timeout=60, what="review's offsets committed to the end")
    finally:
        stop_process(service.pid)

    try:
        inbox = await conn.fetch(
            "SELECT event_id, count(*) AS n FROM inbox WHERE event_id = ANY($1::uuid[]) GROUP BY event_id", event_ids
        )
        assert len(inbox) == EVENTS and all(r["n"] == 1 for r in inbox), "an event lost, or claimed twice"
        per_case = await conn.fetch(
            "SELECT c.case_id, c.status,"
            " (SELECT count(*) FROM iterations i WHERE i.case_id = c.case_id) AS iterations,"
            " (SELECT count(*) FROM review_tasks t WHERE t.case_id = c.case_id) AS tasks"
            " FROM cases c WHERE c.case_id = ANY($1::uuid[])",
            [uuid.UUID(c) for c in case_ids],
        )
        assert len(per_case) == CASES
        wrong = [dict(r) for r in per_case if (r["status"], r["iterations"], r["tasks"]) != ("withdrawn", 1, 1)]
        assert not wrong, f"cases not in their final state, or worked twice: {wrong[:3]}"
        emitted = await conn.fetch(
            "SELECT message_key, count(*) AS n FROM outbox WHERE event_type = $1 AND message_key = ANY($2::text[])"
            " GROUP BY message_key",
            IterationOpenedV1.event_type,
            case_ids,
        )
        row.cases_lost = CASES - len(emitted)
        row.duplicates_seen = sum(r["n"] - 1 for r in emitted)  # a second iteration_opened: heard twice
        assert len(emitted) == CASES and all(r["n"] == 1 for r in emitted)
    finally:
        await conn.close()

    # Exactly what the database had and Kafka had not came again, each turned away by the inbox once.
    wanted = set(case_ids)
    skipped = [
        line
        for line in log.read_text().splitlines()
        if line.startswith("{")
        and "event already handled; skipped" in line
        and json.loads(line).get("case_id") in wanted
    ]
    assert len(skipped) == done_at_kill - committed_at_kill, log.read_text()[-3000:]
    print(
        f"killed with {done_at_kill} of {EVENTS} events done, {committed_at_kill} of them committed in Kafka; "
        f"{len(skipped)} came again and were skipped; every event exactly once"
    )

"""A real service (review) is SIGKILLed while it works through a stream of cases, then restarted.

Afterwards every case has exactly one review iteration and one review task, and
exactly one distinct ``iteration_opened`` event (the relay may publish a copy of
the same event again after a crash — that is at-least-once delivery with the same
event id, which consumers' inboxes drop — but the service never *processed* a
case twice, which would have produced a second event id).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import defaultdict

import asyncpg
import pytest

from deploy.stack import start_service, stop_process, wait_ready
from shared import topics
from shared.events import IterationOpenedV1
from tests.faults.test_kill_after_commit import free_port
from tests.support.harness import eventually
from tests.support.infra import database_env_name, own_database, reset_database, unique_group
from tests.support.kafka import produce_events, submitted, watch
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

CASES = 300


async def test_review_killed_mid_stream_processes_every_case_exactly_once(
    infra_env, tmp_path, reliability: Reliability
) -> None:
    row = reliability.row("Faults", "review SIGKILLed mid-stream and restarted (submitted-case events)")
    row.cases_driven = CASES
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    db_url = await own_database(infra_env, "review", "fault_review")
    await reset_database(db_url)
    env = {
        **os.environ,
        database_env_name("review"): db_url,
        "KIPINA_REVIEW_CONSUMER_GROUP": unique_group("fault-review"),
        "KIPINA_REVIEW_PORT": str(free_port()),
    }
    url = f"http://127.0.0.1:{env['KIPINA_REVIEW_PORT']}"
    log = tmp_path / "review.log"
    case_ids = [str(uuid.uuid4()) for _ in range(CASES)]
    service = start_service("review", env=env, log_path=log)
    try:
        await asyncio.to_thread(wait_ready, url, timeout=120, process=service)
        async with watch(bootstrap, topics.REVIEW) as review_topic:
            await produce_events(
                bootstrap, (submitted(case_id, f"case {case_id[:8]}") for case_id in case_ids), topic=topics.INTAKE
            )

            def opened() -> dict[str, set[str]]:
                by_case: dict[str, set[str]] = defaultdict(set)
                for event in review_topic.events(event_type=IterationOpenedV1.event_type):
                    if event.subject in wanted:
                        by_case[event.subject].add(str(event.id))
                return by_case

            wanted = set(case_ids)

            async def some_progress() -> bool:
                return len(opened()) >= 20

            await eventually(some_progress, timeout=60, what="the service to work through some cases")
            os.killpg(service.pid, signal.SIGKILL)
            row.faults_injected += 1
            service.wait(timeout=30)
            at_kill = len(opened())

            service = start_service("review", env=env, log_path=log)
            await asyncio.to_thread(wait_ready, url, timeout=120, process=service)

            async def all_opened() -> dict[str, set[str]] | None:
                found = opened()
                return found if len(found) == CASES else None

            await eventually(all_opened, timeout=120, what=f"iteration_opened for all {CASES} cases")

            async def outbox_published() -> bool:
                conn = await asyncpg.connect(db_url)
                try:
                    return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
                finally:
                    await conn.close()

            # A second processing would show as a second event: wait until everything review committed is
            # published and read, rather than for a while.
            await eventually(outbox_published, timeout=60, what="review's outbox published")
            await review_topic.caught_up()
            found = opened()
    finally:
        stop_process(service.pid)

    # Lost: a case with no iteration opened; a duplicate: a second iteration_opened, which people would hear twice.
    row.cases_lost = CASES - len(found)
    row.duplicates_seen = sum(len(ids) - 1 for ids in found.values())
    assert at_kill < CASES, "the kill came after all the work: the test proved nothing"
    twice = {case: ids for case, ids in found.items() if len(ids) != 1}
    assert not twice, f"cases processed more than once: {list(twice.items())[:3]}"
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT case_id, count(*) AS n FROM review_tasks WHERE case_id = ANY($1::uuid[]) GROUP BY case_id",
            [uuid.UUID(c) for c in case_ids],
        )
        assert len(rows) == CASES and all(r["n"] == 1 for r in rows)
        iterations = await conn.fetchval(
            "SELECT count(*) FROM iterations WHERE case_id = ANY($1::uuid[])", [uuid.UUID(c) for c in case_ids]
        )
        assert iterations == CASES
        # The service's own record of what it emitted: one iteration_opened per case, all published.
        emitted = await conn.fetch(
            "SELECT message_key, count(*) AS n, bool_and(published_at IS NOT NULL) AS published FROM outbox"
            " WHERE event_type = $1 AND message_key = ANY($2::text[]) GROUP BY message_key",
            IterationOpenedV1.event_type,
            case_ids,
        )
        assert len(emitted) == CASES and all(r["n"] == 1 and r["published"] for r in emitted)
    finally:
        await conn.close()
    print(f"killed after {at_kill} of {CASES} cases had their iteration opened; all {CASES} exactly once")

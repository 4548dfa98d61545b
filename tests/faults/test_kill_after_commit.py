"""A consumer killed after its database commit but before its offset commit processes nothing twice.

The probe service runs as a real process. With KIPINA_PROBE_KILL_AFTER_COMMIT=<case id> it
dies (os._exit) right after the transaction holding that case's message committed, before
the batch's offsets are committed. Restarted, it receives the message again; the inbox
makes the redelivery a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.kafka import ensure_topics
from tests.support.harness import eventually
from tests.support.infra import reset_database, unique_group
from tests.support.kafka import produce_event, submitted
from tests.support.probe_service import PROBE_DLQ, PROBE_TOPIC
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_probe(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.probe_service"],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_killed_after_db_commit_processes_nothing_twice(
    infra_env, probe_db_url, tmp_path, reliability: Reliability
) -> None:
    row = reliability.row("Faults", "a consumer killed after its database commit, before its offset commit")
    row.cases_driven = 1
    import asyncpg

    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    await ensure_topics(bootstrap, names=[PROBE_TOPIC, PROBE_DLQ])
    await reset_database(probe_db_url)
    env = {
        **os.environ,
        "KIPINA_PROBE_DATABASE_URL": probe_db_url,
        "KIPINA_PROBE_CONSUMER_GROUP": unique_group("probe-fault"),
        "KIPINA_PROBE_PORT": str(free_port()),
    }
    log = tmp_path / "probe.log"
    case_id = str(uuid.uuid4())
    env["KIPINA_PROBE_KILL_AFTER_COMMIT"] = case_id
    first = submitted(case_id, "handled once")

    doomed = start_probe(env, log)
    try:
        await produce_event(bootstrap, first, topic=PROBE_TOPIC)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(doomed.wait, 60)  # the fact: the process ended
        row.faults_injected += doomed.returncode == 137
        assert doomed.returncode == 137, f"probe did not die as planned:\n{log.read_text()[-3000:]}"
    finally:
        if doomed.poll() is None:
            doomed.kill()

    conn = await asyncpg.connect(probe_db_url)
    try:
        rows = await conn.fetch("SELECT title FROM probe_effects WHERE case_id = $1", uuid.UUID(case_id))
        assert [r["title"] for r in rows] == ["handled once"], "the commit happened before the kill"

        env["KIPINA_PROBE_KILL_AFTER_COMMIT"] = ""
        survivor = start_probe(env, log)
        try:
            marker = submitted(case_id, "marker")
            await produce_event(bootstrap, marker, topic=PROBE_TOPIC)

            async def marker_handled() -> list[str] | None:
                titles = [
                    r["title"]
                    for r in await conn.fetch(
                        "SELECT title FROM probe_effects WHERE case_id = $1 ORDER BY id", uuid.UUID(case_id)
                    )
                ]
                return titles if "marker" in titles else None

            titles = await eventually(marker_handled, timeout=60, what="restarted probe handles the next event")
        finally:
            survivor.terminate()
            survivor.wait(timeout=30)
        row.cases_lost = int("handled once" not in titles)
        row.duplicates_seen = max(0, titles.count("handled once") - 1)
        assert titles == ["handled once", "marker"]
        # The uncommitted offset really was delivered again, and the inbox turned it away.
        skipped = [
            line
            for line in log.read_text().splitlines()
            if "event already handled; skipped" in line and case_id in line
        ]
        assert len(skipped) == 1, log.read_text()[-3000:]
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", first.id) == 1
    finally:
        await conn.close()

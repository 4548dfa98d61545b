"""The floors, for a handful of cases, against the real Kafka and PostgreSQL: every case makes both hops (and every
submission its rows) exactly once. A fact, not a speed: the figures they print are never asserted."""

from __future__ import annotations

import pytest

from bench import floor_events, floor_http
from tests.support.mail import free_port

pytestmark = pytest.mark.integration

CASES = 20


@pytest.mark.parametrize("mode", ["batched", "single"])
async def test_every_case_makes_both_hops_exactly_once(infra_env: dict[str, str], mode: str) -> None:
    figures = await floor_events.run(CASES, mode=mode, max_records=7, within_s=120)
    assert figures["facts"] == floor_events.expected_facts(CASES)
    assert figures["latency_ms"]["end_to_end"]["count"] == CASES  # each case's own times, carried by its events


async def test_open_loop_arrivals_reach_the_end_too(infra_env: dict[str, str]) -> None:
    figures = await floor_events.run(CASES, mode="batched", rate=200, within_s=120)
    assert figures["facts"] == floor_events.expected_facts(CASES)


async def test_every_submission_leaves_its_rows_once(infra_env: dict[str, str]) -> None:
    figures = await floor_http.run(CASES, concurrency=4, port=free_port())
    assert figures["statuses"] == {"201": CASES}
    assert figures["facts"] == {"cases": CASES, "status_history": CASES, "timeline": CASES, "outbox_rows": CASES}

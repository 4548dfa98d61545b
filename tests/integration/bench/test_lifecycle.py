"""The benchmark's full lifecycle (bench/lifecycle.py) for a handful of cases, against the real Kafka, PostgreSQL
and the four services, the driver playing every person through the public APIs: every case ends as its plan said,
exactly once, and every submitter hears exactly what their cases' fates make them hear. Facts, never speed."""

from __future__ import annotations

import pytest

from bench import lifecycle
from tests.integration.bench.test_load_driver import free_base_port

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def test_every_case_goes_through_the_whole_lifecycle_once(infra_env: dict[str, str]) -> None:
    # Seed 3 draws, for 5 cases, each fate at least once (tests/unit/bench/test_lifecycle.py checks the plan).
    figures = await lifecycle.run(5, 2.0, base_port=free_base_port(), seed=3, publish_every_s=0.5, within_s=240)
    fates = figures["fates"]
    assert set(fates) == {lifecycle.NOMINATE, lifecycle.CHANGES, lifecycle.REJECT}
    assert figures["completed"] == 5
    assert figures["facts"] == {
        "cases": 5,
        "published_once_with_outcome": fates[lifecycle.NOMINATE] + fates[lifecycle.CHANGES],
        "rejected_once": fates[lifecycle.REJECT],
        "not_as_planned": 0,
        "as_planned": True,
        "submitters_heard_as_expected": True,
        "submitters_heard_each_delivery_as_expected": True,
    }
    assert figures["deliveries"]["repeated"] == {"same_delivery": 0, "same_message_to_one_person": 0}
    for submitter in figures["submitters"].values():
        assert submitter["heard"] == submitter["expected"]
    assert figures["deliveries"]["notify"]["failed"] == 0
    assert figures["deliveries"]["notify"]["delivered"] >= figures["deliveries"]["smtp_received"] > 0
    assert figures["latency_ms"]["to_published"]["count"] == 5 - fates[lifecycle.REJECT]
    assert {"intake", "review", "awards"} <= set(figures["requests"])
    assert {"intake", "review", "awards", "notify", "kafka", "postgres", "total"} <= set(figures["cpu_s"])

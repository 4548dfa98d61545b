"""The three-broker cluster (KRaft, replication factor 3, ``min.insync.replicas=2``): one broker SIGKILLed while
cases flow through the whole lifecycle, then, once it is back and every replica in sync, another.

With every partition on three brokers and a write acknowledged (``acks=all``) once two have it, one broker lost is
not felt: its partitions' leadership moves to a surviving replica, producers and consumers follow, and the cases
keep moving while it is down (checked: more cases advance before it comes back). Afterwards every case reached its
planned final state exactly once and every person got each notification exactly once.

The cluster runs on the tests' own Kafka ports (deploy/local.py ``KIPINA_KAFKA_BROKERS=3``: broker n on
``KIPINA_KAFKA_PORT + 2(n-1)``), so the single broker of the other tests is stopped meanwhile and started again
after.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable

import pytest

from deploy import local
from tests.faults.flow import Flow, Progress, flowing
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults


@pytest.fixture
async def cluster(infra_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[local.Settings]:
    """Three brokers in place of the single one, for this test only; the services are pointed at all three."""
    single = local.load_settings()
    if not single.manage_kafka:
        pytest.skip("Kafka is external (KIPINA_KAFKA_BOOTSTRAP); this test runs its own cluster")
    three = dataclasses.replace(single, kafka_brokers=local.CLUSTER_BROKERS)
    await asyncio.to_thread(local.kafka_stop, single)
    try:
        await asyncio.to_thread(local.kafka_start, three)  # returns once every topic's replicas are in sync
        monkeypatch.setenv("KIPINA_KAFKA_BOOTSTRAP", three.bootstrap)
        yield three
    finally:
        await asyncio.to_thread(local.kafka_stop, three)
        await asyncio.to_thread(local.kafka_start, single)


def moved(since: Progress, by: int = 3) -> Callable[[Progress], bool]:
    """Cases moved on ``by`` steps (into review, or to their final state) since ``since``."""
    return lambda p: p.reached_review + p.final >= since.reached_review + since.final + by


async def kill_broker_while_cases_move(flow: Flow, cluster: local.Settings, node: int) -> Progress:
    """SIGKILL broker ``node``, see the cases move on without it, start it again (back once in sync)."""
    try:
        await asyncio.to_thread(local.kafka_stop, cluster, force=True, node=node)
        down = await flow.progress()
        assert down is not None
        # One broker down is not felt: the lifecycle goes on (producers, consumers and groups on the other two).
        await flow.when(moved(down), what=f"cases moving on while broker {node} is down")
    finally:
        await asyncio.to_thread(local.kafka_start, cluster, node=node)
    return down


async def test_one_broker_of_three_killed_then_another(cluster: local.Settings, reliability: Reliability) -> None:
    row = reliability.row("Faults", "one of three Kafka brokers SIGKILLed mid-flow, then another once it is back")
    cases, rate = (300, 4.0) if reliability.soak else (30, 1.5)
    wave = cases // 2  # the second half arrives once the first broker is back, for the second fault to meet
    async with flowing(cases=cases, rate=rate, held=cases - wave) as flow:
        row.cases_driven = cases
        first = await flow.when(
            lambda p: p.reached_review >= 3 and p.in_flight >= 3 and p.submitted < wave,
            what="cases in flight, some in review, others still to come",
        )
        await kill_broker_while_cases_move(flow, cluster, node=1)
        row.faults_injected += 1
        flow.release()
        second = await flow.when(
            lambda p: p.reached_review >= wave + 3 and p.in_flight >= 3 and p.submitted < cases,
            what="cases of the second wave in flight, some in review, others still to come",
        )
        await kill_broker_while_cases_move(flow, cluster, node=2)
        row.faults_injected += 1
        row.notes = f"broker 1 killed at {first.describe()}; broker 2 at {second.describe()}"
        settled = await flow.settle(timeout=900 if reliability.soak else 300)
        verdict = await flow.verdict()
    verdict.record_and_check(row, cases=cases, settled=settled)

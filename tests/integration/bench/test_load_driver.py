"""The load benchmark's driver (bench/run.py) for a handful of cases at a low rate, against the real Kafka,
PostgreSQL and Kipinä's services: every case reaches ``in_review`` once, through each hop once. Facts, never speed:
the latencies and CPU it reads are only checked to be there."""

from __future__ import annotations

import socket

import pytest

from bench.run import Kipina

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def free_base_port() -> int:
    """A base whose next four ports (the services') are free now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base > 60_000:
            continue
        try:
            sockets = []
            for offset in range(1, 5):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError("no four free ports in a row")


@pytest.mark.parametrize("mode", ["events", "http"])
async def test_every_case_reaches_in_review_once(infra_env: dict[str, str], mode: str) -> None:
    kip = await Kipina.start(mode, base_port=free_base_port())
    try:
        step = await kip.step("search", 6, 6, drain_s=90)  # 36 cases; a verdict needs 4+ readings (0.5 s apart)
    finally:
        kip.started.stop()
    assert step.completed == step.cases
    assert step.facts == {
        "cases": step.cases,
        "review_claims": step.cases,
        "intake_claims": step.cases,
        "in_review": step.cases,
        "each_once": True,
    }
    assert step.latency_ms["end_to_end"]["count"] == step.cases
    assert step.latency_ms["hop1"]["count"] == step.cases and step.latency_ms["hop2"]["count"] == step.cases
    assert step.verdict["rate"] == 6
    assert {"intake", "review", "kafka", "postgres", "total"} <= set(step.cpu_s)
    if mode == "http":
        assert step.http["statuses"] == {"201": step.cases}
        assert step.latency_ms["hop1_published"]["count"] == step.cases

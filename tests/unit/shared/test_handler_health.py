"""The dashboard's handler latency quantiles, computed from this process's histogram bucket counts."""

from __future__ import annotations

import math

import pytest

from shared.metrics import EVENT_HANDLING_SECONDS, HANDLER_RETRIES, handler_health, quantile

INF = math.inf


def test_nothing_observed_has_no_quantile() -> None:
    assert quantile(0.5, []) is None
    assert quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None


def test_a_quantile_interpolates_inside_the_bucket_that_holds_its_rank() -> None:
    # 10 observations: 4 up to 0.1 s, 6 more up to 0.5 s, none above.
    buckets = [(0.1, 4.0), (0.5, 10.0), (INF, 10.0)]
    assert quantile(0.2, buckets) == pytest.approx(0.05)  # rank 2 of 4 in [0, 0.1]
    assert quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * (5 - 4) / 6)
    assert quantile(0.99, buckets) == pytest.approx(0.1 + 0.4 * (9.9 - 4) / 6)


def test_a_rank_in_the_infinite_bucket_answers_the_highest_finite_bound() -> None:
    assert quantile(0.99, [(0.1, 1.0), (1.0, 2.0), (INF, 10.0)]) == 1.0


def test_handler_health_reads_this_process_metrics_for_one_consumer_only() -> None:
    consumer = "test-handler-health"
    assert handler_health(consumer).p50 is None and handler_health(consumer).error_rate is None
    for seconds in (0.004, 0.004, 0.004, 0.2):
        EVENT_HANDLING_SECONDS.labels(consumer, "a.type").observe(seconds)
    EVENT_HANDLING_SECONDS.labels("someone-else", "a.type").observe(30.0)
    HANDLER_RETRIES.labels(consumer).inc()
    health = handler_health(consumer)
    assert health.handled == 4
    assert health.p50 is not None and health.p50 <= 0.005
    assert health.p99 is not None and 0.1 < health.p99 <= 0.25
    assert health.failed_attempts == 1
    assert health.error_rate == pytest.approx(1 / 5)

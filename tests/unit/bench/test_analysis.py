"""The pure parts of the load benchmark: Poisson schedules, a step's verdict, the saturation a search found."""

from __future__ import annotations

import random
import statistics

import pytest

from bench.analysis import (
    Sample,
    StepVerdict,
    judge_step,
    next_rate,
    poisson_schedule,
    rss_growth,
    saturation,
    slope,
)


def test_a_poisson_schedule_has_exponential_gaps_of_the_rates_mean() -> None:
    rate = 200.0
    times = poisson_schedule(rate, 20_000, random.Random(8))
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert all(g > 0 for g in gaps)  # rising
    mean = statistics.fmean(gaps)
    assert mean == pytest.approx(1 / rate, rel=0.03)
    # An exponential's standard deviation equals its mean (coefficient of variation 1), unlike a fixed tick's 0.
    assert statistics.pstdev(gaps) / mean == pytest.approx(1.0, abs=0.05)
    # Arrivals in disjoint seconds are Poisson: their variance is their mean.
    per_second = [0] * int(times[-1])
    for t in times:
        if int(t) < len(per_second):
            per_second[int(t)] += 1
    assert statistics.pvariance(per_second) / statistics.fmean(per_second) == pytest.approx(1.0, abs=0.25)


def test_a_poisson_schedule_refuses_a_rate_of_nothing() -> None:
    with pytest.raises(ValueError):
        poisson_schedule(0, 10, random.Random(1))


def _samples(rate: float, capacity: float, seconds: float, *, latency_s: float = 0.2) -> list[Sample]:
    """Readings of a system completing ``capacity`` per second at most, behind by ``latency_s``."""
    out = []
    t = 0.5
    while t <= seconds:
        arrived = int(rate * t)
        completed = int(min(rate * max(t - latency_s, 0), capacity * t))
        out.append(Sample(t, arrived, completed))
        t += 0.5
    return out


def test_a_step_that_keeps_up_is_bounded() -> None:
    verdict = judge_step(_samples(100, 150, 10), 100, 10)
    assert verdict.bounded
    assert verdict.backlog_growth_per_s == pytest.approx(0, abs=2)


def test_a_step_whose_backlog_grows_is_not_bounded() -> None:
    verdict = judge_step(_samples(100, 70, 10), 100, 10)
    assert not verdict.bounded
    assert verdict.backlog_growth_per_s == pytest.approx(30, abs=2)
    assert verdict.completions_per_s == pytest.approx(70, abs=3)
    assert "grew" in verdict.reason


def test_a_step_whose_backlog_grew_early_and_then_stalled_is_not_bounded() -> None:
    # Falling behind at 30/s for most of the step, then level for the last seconds: the second half alone would pass.
    samples = [Sample(t / 2, 50 * t, 35 * t if t <= 10 else 50 * t - 150) for t in range(1, 21)]
    verdict = judge_step(samples, 100, 10, max_lag_s=60)
    assert not verdict.bounded
    assert "whole step" in verdict.reason


def test_a_step_with_a_steady_but_huge_lag_is_not_bounded() -> None:
    # Keeping pace, but eight seconds behind: the backlog is steady at eight seconds of arrivals.
    verdict = judge_step(_samples(100, 1000, 20, latency_s=8), 100, 20)
    assert not verdict.bounded


def test_a_step_with_too_few_readings_is_not_judged_bounded() -> None:
    verdict = judge_step([Sample(0.5, 1, 1), Sample(9.0, 5, 2)], 10, 10)
    assert not verdict.bounded and verdict.reason.startswith("not judged: 2 readings")
    assert verdict.final_backlog == 3


def _verdict(rate: float, bounded: bool, completed: float | None = None) -> StepVerdict:
    return StepVerdict(rate, bounded, rate, completed if completed is not None else rate, 0, 0, "")


def test_the_search_rises_by_its_factor_then_refines_once_then_stops() -> None:
    assert next_rate([_verdict(20, True)]) == pytest.approx(30)
    steps = [_verdict(20, True), _verdict(30, True), _verdict(45, False)]
    middle = next_rate(steps)
    assert middle is not None and 30 < middle < 45
    assert next_rate([*steps, _verdict(middle, False)]) is None
    assert next_rate([*steps, _verdict(middle, True)]) is None
    assert next_rate([_verdict(20, False)]) is None  # nothing bounded: nowhere to refine


def test_saturation_is_the_highest_bounded_rate() -> None:
    found = saturation([_verdict(20, True), _verdict(30, True), _verdict(45, False, 33), _verdict(37, True, 36)])
    assert found.rate == 37
    assert found.sustained_per_s == 36
    assert found.overloaded_per_s == 33
    assert saturation([_verdict(20, False, 12)]).rate is None


def test_slope_and_memory_growth() -> None:
    assert slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2)
    assert slope([(1, 1)]) == 0
    assert rss_growth([(0, 100.0), (60, 100.0), (120, 100.0)]) == 0
    assert rss_growth([(0, 100.0), (3600, 110.0)]) == pytest.approx(10)

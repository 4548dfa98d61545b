"""The pure parts of the load benchmark (bench/run.py): Poisson arrival schedules, whether a step's lag stayed
bounded, and the saturation a search of steps found. No I/O; unit tests in tests/unit/bench/test_analysis.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass


def poisson_schedule(rate: float, count: int, rng: random.Random) -> list[float]:
    """Arrival times (seconds from the start) of ``count`` arrivals of a Poisson process of ``rate`` per second:
    independent exponential gaps of mean 1/rate. Open loop: the schedule never waits for the system."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    times: list[float] = []
    at = 0.0
    for _ in range(count):
        at += rng.expovariate(rate)
        times.append(at)
    return times


@dataclass(frozen=True)
class Sample:
    """One reading during a step: seconds since the step began, cases arrived so far, cases completed so far."""

    t: float
    arrived: int
    completed: int

    @property
    def backlog(self) -> int:
        return self.arrived - self.completed


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of y over x; 0 for fewer than two distinct x."""
    if len(points) < 2:
        return 0.0
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / var


@dataclass(frozen=True)
class StepVerdict:
    """Whether a step at ``rate`` kept its lag bounded, and the figures the verdict rests on."""

    rate: float
    bounded: bool
    arrivals_per_s: float  # arrivals over the step's arrival window, per second
    completions_per_s: float  # completions over the same window
    backlog_growth_per_s: float  # the backlog's slope over the window's second half
    final_backlog: int
    reason: str


def judge_step(
    samples: Sequence[Sample],
    rate: float,
    duration_s: float,
    *,
    tolerance: float = 0.1,
    max_lag_s: float = 5.0,
) -> StepVerdict:
    """A step's lag is bounded when the backlog (arrived − completed) grows by less than ``tolerance`` × rate per
    second, that is the system completes at least (1 − tolerance) of what arrives, both over the second half of its
    arrival window (``duration_s``: is it still growing at the end?) and over the whole window (did it grow in
    bursts the second half alone would miss?), and the backlog at the end stays under ``max_lag_s`` seconds of
    arrivals. At any rate a backlog of one latency's worth builds up first; the limit leaves room for it."""
    window = [s for s in samples if s.t <= duration_s]
    if len(window) < 4:
        # A busy machine can stretch the sampler past a short step: say so rather than judge on two points (the
        # search then stops here, and the report shows why).
        last_backlog = window[-1].backlog if window else (samples[-1].backlog if samples else 0)
        reason = f"not judged: {len(window)} readings in the {duration_s:g} s arrival window (4 needed)"
        return StepVerdict(rate, False, math.nan, math.nan, math.nan, last_backlog, reason)
    second_half = [(s.t, float(s.backlog)) for s in window if s.t >= duration_s / 2]
    growth = slope(second_half)
    overall = slope([(s.t, float(s.backlog)) for s in window])
    last = window[-1]
    span = last.t - window[0].t
    arrivals_per_s = (last.arrived - window[0].arrived) / span if span > 0 else math.nan
    completions_per_s = (last.completed - window[0].completed) / span if span > 0 else math.nan
    limit = max(tolerance * rate, 1.0)
    lag_limit = max(max_lag_s * rate, 10.0)
    if growth > limit:
        reason = f"backlog grew {growth:.1f}/s (limit {limit:.1f}/s)"
        bounded = False
    elif overall > limit:
        reason = f"backlog grew {overall:.1f}/s over the whole step (limit {limit:.1f}/s)"
        bounded = False
    elif last.backlog > lag_limit:
        reason = f"backlog {last.backlog} at the end (limit {lag_limit:.0f}, {max_lag_s:g} s of arrivals)"
        bounded = False
    else:
        reason = f"backlog grew {growth:.1f}/s, {last.backlog} at the end"
        bounded = True
    return StepVerdict(
        rate=rate,
        bounded=bounded,
        arrivals_per_s=round(arrivals_per_s, 2),
        completions_per_s=round(completions_per_s, 2),
        backlog_growth_per_s=round(growth, 2),
        final_backlog=last.backlog,
        reason=reason,
    )


def next_rate(verdicts: Sequence[StepVerdict], *, factor: float = 1.5, refine: bool = True) -> float | None:
    """The next rate of a saturation search: multiply by ``factor`` while every step was bounded; after the first
    unbounded step, one step halfway (geometrically) between the last bounded rate and it, then stop (None)."""
    if not verdicts:
        raise ValueError("the first rate is the caller's")
    last = verdicts[-1]
    if all(v.bounded for v in verdicts):
        return last.rate * factor
    unbounded = [v for v in verdicts if not v.bounded]
    bounded = [v for v in verdicts if v.bounded]
    if not refine or len(unbounded) > 1 or not bounded or last is not unbounded[0]:
        return None
    lower = max(v.rate for v in bounded)
    middle = math.sqrt(lower * unbounded[0].rate)
    return middle if middle > lower * 1.05 else None


@dataclass(frozen=True)
class Saturation:
    """What a search found: the highest rate whose lag stayed bounded and what completed at it, and the completion
    rate of the lowest unbounded step (what the system does when pushed past saturation)."""

    rate: float | None
    sustained_per_s: float | None
    overloaded_per_s: float | None


def saturation(verdicts: Sequence[StepVerdict]) -> Saturation:
    bounded = [v for v in verdicts if v.bounded]
    unbounded = [v for v in verdicts if not v.bounded]
    best = max(bounded, key=lambda v: v.rate, default=None)
    worst = min(unbounded, key=lambda v: v.rate, default=None)
    return Saturation(
        rate=best.rate if best else None,
        sustained_per_s=best.completions_per_s if best else None,
        overloaded_per_s=worst.completions_per_s if worst else None,
    )


def rss_growth(samples: Sequence[tuple[float, float]]) -> float:
    """MiB per hour a resident set grew over a run, from (seconds, MiB) readings (the least-squares slope)."""
    return slope(samples) * 3600

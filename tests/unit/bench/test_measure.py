"""The benchmarks' arithmetic: percentiles, latency summaries, CPU-seconds from /proc, the ratio table."""

from __future__ import annotations

import math

import pytest

from bench.measure import CLOCK_TICKS, RatioRow, latency_summary, parse_stat, percentile, ratio, ratio_table


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, shuffled order must not matter
    shuffled = values[::2] + values[1::2]
    assert percentile(shuffled, 0.50) == 50
    assert percentile(shuffled, 0.95) == 95
    assert percentile(shuffled, 0.99) == 99
    assert percentile(shuffled, 0.999) == 100  # fewer than 1000 values: the largest
    assert percentile([7.0], 0.5) == 7.0


def test_percentile_of_nothing_is_not_a_number() -> None:
    assert math.isnan(percentile([], 0.5))


def test_latency_summary_in_milliseconds() -> None:
    summary = latency_summary([0.001 * v for v in range(1, 1001)])  # 1..1000 ms
    assert summary["count"] == 1000
    assert summary["p50"] == 500.0
    assert summary["p95"] == 950.0
    assert summary["p99"] == 990.0
    assert summary["p99.9"] == 999.0
    assert summary["mean"] == 500.5


def test_ratio_refuses_an_unknown_or_empty_floor() -> None:
    assert ratio(50.0, 200.0) == 0.25
    assert ratio(None, 200.0) is None
    assert ratio(50.0, 0.0) is None
    assert ratio(50.0, math.nan) is None


def test_ratio_table_shows_each_figure_beside_its_floor() -> None:
    table = ratio_table(
        [
            RatioRow("cases/s", 42.0, 2300.0, "cases/s"),
            RatioRow("CPU per case", 30.8, 2.5, "CPU-ms", higher_is_better=False),
            RatioRow("no floor", 5.0, None, "x"),
        ]
    )
    lines = table.splitlines()
    assert lines[0] == "| figure | Kipinä | floor | unit | Kipinä ÷ floor |"
    assert lines[2] == "| cases/s | 42.00 | 2,300 | cases/s | 0.02 |"
    assert lines[3] == "| CPU per case | 30.80 | 2.50 | CPU-ms | 12.32 (lower is better) |"
    assert lines[4] == "| no floor | 5.00 | — | x | — |"


@pytest.mark.parametrize("name", ["postgres", "postgres: intake bench (1) idle", "a) b"])
def test_parse_stat_reads_the_parent_and_cpu_time_past_any_command_name(name: str) -> None:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    text = f"4616 ({name}) S 1 4616 4616 0 -1 4194560 900 0 0 0 {3 * CLOCK_TICKS} {CLOCK_TICKS} 50 50 20 0 1 0"
    ppid, cpu_s = parse_stat(text)
    assert ppid == 1
    assert cpu_s == pytest.approx(4 + 100 / CLOCK_TICKS)

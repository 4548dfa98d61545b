"""What every benchmark of bench/ measures alike: latency percentiles, CPU-seconds read from /proc, ratio tables.

The pure parts (``percentile``, ``latency_summary``, ``ratio``, ``ratio_table``, ``parse_stat``) have unit tests;
the /proc readers measure the processes of this machine: the broker and PostgreSQL that deploy/local.py runs
(PostgreSQL as its postmaster and every backend under it), and the benchmark's own processes.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy import local

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The quantiles every latency is reported at (the p50/p95/p99/p99.9).
QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999))


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of ``values``: the smallest value with at least q of them at or
    below it, so p99 of 100 values is the 99th and p99.9 of them the largest. NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Latencies (in seconds) as milliseconds at the reported quantiles, with their count and mean."""
    summary: dict[str, float] = {"count": len(seconds)}
    for name, q in QUANTILES:
        summary[name] = round(percentile(seconds, q) * 1000, 2)
    summary["mean"] = round(sum(seconds) / len(seconds) * 1000, 2) if seconds else math.nan
    return summary


def ratio(value: float | None, floor: float | None) -> float | None:
    """``value`` ÷ ``floor``, None when either is unknown or the floor is not positive."""
    if value is None or floor is None or not floor > 0 or math.isnan(value) or math.isnan(floor):
        return None
    return value / floor


@dataclass(frozen=True)
class RatioRow:
    """One line of the ratio table: what is compared, Kipinä's figure, the floor's, and which way is better."""

    figure: str
    kipina: float | None
    floor: float | None
    unit: str
    higher_is_better: bool = True


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def ratio_table(rows: Iterable[RatioRow]) -> str:
    """A Markdown table of Kipinä's figures beside their floors and the ratio (Kipinä ÷ floor)."""
    lines = [
        "| figure | Kipinä | floor | unit | Kipinä ÷ floor |",
        "|---|---:|---:|---|---:|",
    ]
    for row in rows:
        r = ratio(row.kipina, row.floor)
        shown = "—" if r is None else f"{r:.2f}" + ("" if row.higher_is_better else " (lower is better)")
        lines.append(f"| {row.figure} | {_number(row.kipina)} | {_number(row.floor)} | {row.unit} | {shown} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CPU-seconds from /proc


def parse_stat(text: str) -> tuple[int, float]:
    """From the text of ``/proc/<pid>/stat``: the parent pid and the CPU-seconds (user + system) of the process
    and of its children it has waited for (which is where a PostgreSQL backend's time goes when it exits)."""
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / CLOCK_TICKS


def _stat(pid: int) -> tuple[int, float] | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, IndexError, ValueError):
        return None


def process_cpu_s(pid: int) -> float:
    """CPU-seconds a process has used so far (its threads and waited-for children included); NaN when gone."""
    stat = _stat(pid)
    return stat[1] if stat is not None else math.nan


def tree_cpu_s(root: int) -> float:
    """CPU-seconds of ``root`` and its live direct children (a postmaster and its backends): a backend that
    exited in between is in the postmaster's children's time, so the difference of two readings is exact."""
    stat = _stat(root)
    if stat is None:
        return math.nan
    total = stat[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat(int(entry.name))
            if child is not None and child[0] == root:
                total += child[1]
    return total


@dataclass(frozen=True)
class Infra:
    """The pids of the broker and the PostgreSQL postmaster that deploy/local.py runs (None when external)."""

    kafka: int | None
    postgres: int | None

    @classmethod
    def find(cls) -> Infra:
        status = local.status()
        return cls(kafka=status.kafka.pid, postgres=status.postgres.pid)


class CpuMeter:
    """CPU-seconds of named processes between ``start`` and ``stop`` (the broker and PostgreSQL included)."""

    def __init__(self, processes: Mapping[str, int], *, infra: Infra | None = None) -> None:
        self._processes = dict(processes)
        self._infra = infra or Infra.find()
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        readings = {name: process_cpu_s(pid) for name, pid in self._processes.items()}
        if self._infra.kafka is not None:
            readings["kafka"] = process_cpu_s(self._infra.kafka)
        if self._infra.postgres is not None:
            readings["postgres"] = tree_cpu_s(self._infra.postgres)
        return readings

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        self.used = {name: round(end[name] - self._start[name], 3) for name in end if name in self._start}
        self.used["total"] = round(sum(v for k, v in self.used.items() if k != "total" and not math.isnan(v)), 3)
        return self.used


def per_case_ms(cpu_s: float, cases: int) -> float:
    """CPU-milliseconds per case."""
    return round(cpu_s / cases * 1000, 3) if cases else math.nan


def report(figures: Mapping[str, object], out: Path | None) -> None:
    """A benchmark's figures as JSON on stdout, and in ``out`` when given."""
    text = json.dumps(figures, indent=2)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")

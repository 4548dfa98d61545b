"""The load benchmark of issue 8: Kipinä under open-loop Poisson arrivals beside its floors, in one invocation.

    .venv/bin/python -m bench.run                        # or: make bench
    .venv/bin/python -m bench.run --step-seconds 6 --soak-minutes 0.5 --base-port 18500

On the tests' own Kafka and PostgreSQL (tests/support/infra.py), one after the other:

1. the event floor (bench/floor_events.py, batched): a pre-produced backlog drained (its saturation), then open
   loop at 25%, 50% and 90% of that;
2. the HTTP floor (bench/floor_http.py): closed loop (its saturation), then open loop at the same fractions;
3. Kipinä's intake alone, closed loop as the HTTP floor (``POST /cases`` beside it);
4. Kipinä, events only (intake and review, as the event floor's two hops): CaseSubmittedV1 envelopes produced at
   Poisson arrivals straight onto ``kipina.intake.v1``, exactly as the event floor's driver produces them, the
   cases' intake rows inserted before (what ``POST /cases`` would have left); until intake has claimed each case's
   IterationOpenedV1;
5. Kipinä from HTTP (the four services): ``POST /cases`` at Poisson arrivals until intake has claimed each case's
   IterationOpenedV1 (``in_review``).

With ``--lifecycle`` (off by default), last: the full lifecycle (bench/lifecycle.py), the driver playing the
operator, submitters, reviewers and jurors through the public APIs, for ``--lifecycle-cases`` at
``--lifecycle-rate``; ``--parts none --lifecycle`` runs it alone.

For 4 and 5: a saturation search (steps of rising rate, each judged by bench/analysis.py ``judge_step``: bounded
while the backlog stops growing), then a run at 25%, 50% and 90% of the saturation found, each with per-hop and end
to end latencies (from the services' rows: outbox ``created_at`` and ``published_at``, the next service's inbox
``processed_at``), CPU-seconds of every process (services, Kafka, PostgreSQL) per case and the services' resident
memory; a profile (py-spy ``record``) of the hottest process at 50%; after 5, a soak at 50% for
``--soak-minutes`` with the services' memory read through it.

Writes every figure as JSON, the profiles and the plot's data to ``--out-dir`` (by default
``<state dir>/bench/<time>/``, not committed), the plot of latency against load to ``docs/bench/`` and the generated
section of docs/PERFORMANCE.md (between its markers) unless ``--no-docs``. It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench import floor_events, floor_http, lifecycle, pipeline
from bench.analysis import Sample, StepVerdict, judge_step, next_rate, poisson_schedule, rss_growth, saturation
from bench.load import LoadResult, case_bytes, drive_open
from bench.measure import CpuMeter, latency_summary, per_case_ms, process_cpu_s
from deploy import local

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "PERFORMANCE.md"
PLOT = REPO / "docs" / "bench" / "latency-vs-load.png"
FRACTIONS = (0.25, 0.5, 0.9)
INTAKE_TOPIC = "kipina.intake.v1"
SAMPLE_EVERY_S = 0.5


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- Kipinä under load


@dataclass
class Step:
    """One stretch of open-loop arrivals at ``rate`` and what came of it."""

    kind: str  # "search", "fraction", "profile", "soak"
    rate: float
    cases: int
    arrival_s: float
    completed: int = 0
    drained_s: float = 0.0
    verdict: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_case: float = 0.0
    driver_cpu_s: float = 0.0
    rss_max_mib: dict[str, float] = field(default_factory=dict)
    rss_series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)


class Kipina:
    """Kipinä's services running for one mode: ``events`` (intake and review, events produced by the driver) or
    ``http`` (the four services, cases submitted over HTTP)."""

    def __init__(self, mode: str, started: pipeline.Started, call_id: str, bootstrap: str) -> None:
        self.mode = mode
        self.started = started
        self.call_id = call_id
        self.bootstrap = bootstrap
        self.rng = random.Random()

    @classmethod
    async def start(cls, mode: str, *, base_port: int) -> Kipina:
        names = ("intake", "review") if mode == "events" else tuple(s.name for s in pipeline.SERVICES)
        started = await pipeline.start(names, base_port=base_port)
        bootstrap = os.environ["KIPINA_KAFKA_BOOTSTRAP"]
        if mode == "http":
            call_id = await pipeline.open_call(started.urls["intake"])
        else:
            call_id = str(uuid.uuid4())
            conn = await asyncpg.connect(started.databases["intake"])
            try:
                await floor_events.insert_call(conn, uuid.UUID(call_id), run=call_id[:8])
            finally:
                await conn.close()
        return cls(mode, started, call_id, bootstrap)

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.started.processes.items()}

    def rss(self) -> dict[str, float]:
        return {name: round(pipeline.rss_mib(pid), 1) for name, pid in self.pids.items()}

    async def completed_since(self, conn: asyncpg.Connection, since: datetime) -> int:
        """Cases whose IterationOpenedV1 intake has claimed since ``since``: the step's cases, as the previous
        step drained before this one began."""
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = 'intake' AND event_type = $1 AND processed_at >= $2",
                pipeline.ITERATION_OPENED,
                since,
            )
        )

    async def step(
        self,
        kind: str,
        rate: float,
        arrival_s: float,
        *,
        drain_s: float = 60.0,
        profile: Callable[[], Coroutine[Any, Any, dict[str, Any]]] | None = None,
        rss_every_s: float = 5.0,
    ) -> Step:
        """Arrivals at ``rate`` for about ``arrival_s`` seconds, read every half second, until every case of the
        step is through (or ``drain_s`` after the last arrival); its verdict, latencies, CPU and memory."""
        cases = max(4, round(rate * arrival_s))
        schedule = poisson_schedule(rate, cases, self.rng)
        step = Step(kind, round(rate, 2), cases, round(schedule[-1], 3))
        tag = uuid.uuid4().hex[:8]
        starts: dict[str, float] = {}  # case id → when it arrived (epoch seconds)
        events: list[dict[str, Any]] = []
        if self.mode == "events":  # off the clock: the envelopes, and intake's rows of their cases
            events = floor_events.submitted_envelopes(uuid.UUID(self.call_id), cases, run=tag)
            conn = await asyncpg.connect(self.started.databases["intake"])
            try:
                await floor_events.insert_submitted_cases(conn, events, run=tag)
            finally:
                await conn.close()
        watch = await asyncpg.connect(self.started.databases["intake"])
        meter = CpuMeter(self.pids)
        driver_before = process_cpu_s(os.getpid())
        samples: list[Sample] = []
        rss_series: dict[str, list[tuple[float, float]]] = {n: [] for n in self.pids}
        rss_max: dict[str, float] = dict.fromkeys(self.pids, 0.0)
        sent: list[float] = []
        http_result: list[LoadResult] = []
        since = datetime.now(UTC)
        zero_wall = time.time()
        zero = time.perf_counter()
        meter.start()

        async def load() -> None:
            if self.mode == "events":
                await floor_events._produce(self.bootstrap, events, rate=rate, topic=INTAKE_TOPIC, sent=sent)
                return

            def answered(n: int, status: int, body: bytes) -> None:
                if status == 201:
                    starts[str(json.loads(body)["id"])] = zero_wall + schedule[n]

            http_result.append(
                await drive_open(
                    f"{self.started.urls['intake']}/cases",
                    schedule=schedule,
                    body_for=case_bytes(self.call_id),
                    headers=pipeline.SUBMITTER,
                    on_response=answered,
                    started=zero,
                )
            )

        loading = asyncio.create_task(load())
        profiling: asyncio.Task[dict[str, Any]] | None = asyncio.create_task(profile()) if profile is not None else None
        last_rss = -rss_every_s
        try:
            while True:
                await asyncio.sleep(SAMPLE_EVERY_S)
                t = time.perf_counter() - zero
                arrived = len(sent) if self.mode == "events" else bisect.bisect_right(schedule, t)
                done = await self.completed_since(watch, since)
                samples.append(Sample(round(t, 3), arrived, done))
                if t - last_rss >= rss_every_s or kind != "soak":
                    last_rss = t
                    for name, mib in self.rss().items():
                        rss_max[name] = max(rss_max[name], mib)
                        if kind == "soak":
                            rss_series[name].append((round(t, 1), mib))
                # From HTTP, only the accepted cases (201) can complete: a refused one (503, service busy) is
                # counted as arrived but never as done, so its step is not bounded.
                expected = cases if self.mode == "events" or not loading.done() else len(starts)
                if loading.done() and done >= expected:
                    break
                if loading.done() and t > schedule[-1] + drain_s:
                    break
            await loading
        finally:
            if not loading.done():
                loading.cancel()
            step.cpu_s = meter.stop()
            await watch.close()
        if profiling is not None:
            step.profile = await profiling
        step.driver_cpu_s = round(process_cpu_s(os.getpid()) - driver_before, 3)
        step.completed = samples[-1].completed
        step.drained_s = samples[-1].t
        step.cpu_ms_per_case = per_case_ms(step.cpu_s["total"], step.completed)
        step.rss_max_mib = rss_max
        step.rss_series = {n: s for n, s in rss_series.items() if s}
        verdict = judge_step(samples, rate, min(arrival_s, schedule[-1]))
        step.verdict = asdict(verdict)
        if self.mode == "events":
            starts = {e["subject"]: at for e, at in zip(events, sent, strict=True)}
        else:
            step.http = http_result[0].figures()
        step.latency_ms, step.facts = await self.latencies(starts)
        return step

    async def latencies(self, starts: dict[str, float]) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
        """Per case, from the services' rows (``now()`` of their transactions):

        * hop 1: CaseSubmittedV1 made (its outbox row; in events mode, its send) → review's inbox claim;
          ``hop1_published``: from intake's relay marking it published (HTTP mode only);
        * hop 2: IterationOpenedV1's outbox row → intake's inbox claim; ``hop2_published`` from its publishing;
        * relay: review's outbox row made → marked published;
        * end to end: the case's arrival (the request's scheduled time, or the event's send) → intake's claim.

        And the facts: every case claimed once by review and once by intake, and ``in_review``."""
        ids = list(starts)
        intake = await asyncpg.connect(self.started.databases["intake"])
        review = await asyncpg.connect(self.started.databases["review"])
        outbox = (
            "SELECT message_key, created_at, published_at FROM outbox WHERE event_type = $1 AND message_key = ANY($2)"
        )
        inbox = "SELECT subject, processed_at FROM inbox WHERE consumer = $1 AND event_type = $2 AND subject = ANY($3)"
        try:
            submitted = {r[0]: r for r in await intake.fetch(outbox, pipeline.SUBMITTED, ids)}
            review_claims = await review.fetch(inbox, "review", pipeline.SUBMITTED, ids)
            opened = {r[0]: r for r in await review.fetch(outbox, pipeline.ITERATION_OPENED, ids)}
            intake_claims = await intake.fetch(inbox, "intake", pipeline.ITERATION_OPENED, ids)
            statuses = await intake.fetch("SELECT id::text, status FROM cases WHERE id = ANY($1::uuid[])", ids)
        finally:
            await intake.close()
            await review.close()
        claimed_by_review = {r[0]: r[1].timestamp() for r in review_claims}
        claimed_by_intake = {r[0]: r[1].timestamp() for r in intake_claims}

        def made(case: str) -> float:
            row = submitted.get(case)
            return row[1].timestamp() if row is not None and self.mode == "http" else starts[case]

        hop1 = [claimed_by_review[c] - made(c) for c in claimed_by_review]
        hop1_pub = [
            claimed_by_review[c] - submitted[c][2].timestamp()
            for c in claimed_by_review
            if c in submitted and submitted[c][2] is not None
        ]
        hop2 = [claimed_by_intake[c] - opened[c][1].timestamp() for c in claimed_by_intake if c in opened]
        hop2_pub = [
            claimed_by_intake[c] - opened[c][2].timestamp()
            for c in claimed_by_intake
            if c in opened and opened[c][2] is not None
        ]
        relay = [r[2].timestamp() - r[1].timestamp() for r in opened.values() if r[2] is not None]
        end = [claimed_by_intake[c] - starts[c] for c in claimed_by_intake]
        latencies = {
            "hop1": latency_summary(hop1),
            "hop2": latency_summary(hop2),
            "end_to_end": latency_summary(end),
            "review_relay": latency_summary(relay),
            "hop2_published": latency_summary(hop2_pub),
        }
        if hop1_pub:
            latencies["hop1_published"] = latency_summary(hop1_pub)
        in_review = sum(1 for r in statuses if r[1] == "in_review")
        facts = {
            "cases": len(ids),
            "review_claims": len(review_claims),
            "intake_claims": len(intake_claims),
            "in_review": in_review,
        }
        facts["each_once"] = (
            len(set(claimed_by_review)) == len(review_claims) == len(ids)
            and len(set(claimed_by_intake)) == len(intake_claims) == len(ids) == in_review
        )
        return latencies, facts


async def py_spy(pid: int, seconds: float, out: Path) -> dict[str, Any]:
    """``py-spy record`` of a process for ``seconds`` (collapsed stacks, which speedscope and flamegraph.pl read);
    the frames where its samples were, most first. Empty when py-spy is missing or may not trace (ptrace)."""
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        return {"error": "py-spy is not installed"}
    out.parent.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        str(exe),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "100",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    text = await asyncio.to_thread(lambda: out.read_text() if out.exists() else None)
    if process.returncode != 0 or text is None:
        return {"error": err.decode(errors="replace")[-500:]}
    return {"path": str(out), **top_frames(text)}


def top_frames(collapsed: str, limit: int = 12) -> dict[str, Any]:
    """From collapsed stacks (``frame;frame;… count``): the samples, and the leaf frames (where the CPU was) with
    their share, most first."""
    leaves: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.rsplit(";", 1)[-1].strip()
        leaves[leaf] = leaves.get(leaf, 0) + n
    ranked = sorted(leaves.items(), key=lambda kv: -kv[1])[:limit]
    return {"samples": total, "top": [{"frame": f, "share": round(n / total, 4)} for f, n in ranked] if total else []}


async def search(kip: Kipina, *, start_rate: float, factor: float, step_s: float, max_rate: float) -> list[Step]:
    """Steps of rising rate until one's lag is not bounded (then one halfway), or ``max_rate``."""
    steps: list[Step] = []
    verdicts: list[StepVerdict] = []
    rate: float | None = start_rate
    while rate is not None and rate <= max_rate:
        step = await kip.step("search", rate, step_s)
        steps.append(step)
        verdicts.append(StepVerdict(**step.verdict))
        _say(
            f"  {kip.mode} {rate:.1f}/s: {'bounded' if step.verdict['bounded'] else 'NOT bounded'} "
            f"({step.verdict['reason']}); completed {step.verdict['completions_per_s']}/s; "
            f"end to end p99 {step.latency_ms['end_to_end']['p99']} ms"
        )
        accepted = step.http["statuses"].get("201", 0) if step.http else step.cases  # 503s never complete
        if step.completed < accepted:  # did not drain: the next step would start on a backlog
            break
        rate = next_rate(verdicts, factor=factor)
    return steps


async def kipina_mode(mode: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """One mode of Kipinä: idle memory, the saturation search, the fractions, a profile, a soak (HTTP mode)."""
    _say(f"Kipinä, {mode}: starting the services on ports from {args.base_port + 1}")
    kip = await Kipina.start(mode, base_port=args.base_port)
    try:
        await asyncio.sleep(2)
        rss_idle = kip.rss()
        steps = await search(
            kip, start_rate=args.start_rate, factor=args.factor, step_s=args.step_seconds, max_rate=args.max_rate
        )
        found = saturation([StepVerdict(**s.verdict) for s in steps])
        fractions: dict[str, Step] = {}
        profile: Step | None = None
        soak: Step | None = None
        if found.rate is not None:
            for fraction in FRACTIONS:
                rate = found.rate * fraction
                step = await kip.step("fraction", rate, args.fraction_seconds)
                fractions[f"{fraction:g}"] = step
                _say(
                    f"  {mode} at {fraction:.0%} ({rate:.1f}/s): end to end p50/p99 "
                    f"{step.latency_ms['end_to_end']['p50']}/{step.latency_ms['end_to_end']['p99']} ms, "
                    f"{step.cpu_ms_per_case} CPU-ms per case, facts {step.facts}"
                )
            hottest = "intake" if mode == "http" else "review"
            pid = kip.pids[hottest]
            seconds = args.profile_seconds
            path = out_dir / f"profile-{mode}-{hottest}.txt"
            profile = await kip.step(
                "profile", found.rate * 0.5, seconds + 1, profile=lambda: py_spy(pid, seconds, path)
            )
            profile.profile["service"] = hottest
            if mode == "http" and args.soak_minutes > 0:
                _say(f"  soak: {args.soak_minutes:g} min at 50% ({found.rate * 0.5:.1f}/s)")
                soak = await kip.step("soak", found.rate * 0.5, args.soak_minutes * 60, drain_s=120)
        rss_after = kip.rss()
    finally:
        kip.started.stop()
    return {
        "mode": mode,
        "services": list(kip.pids),
        "saturation": asdict(found),
        "search": [asdict(s) for s in steps],
        "fractions": {k: asdict(s) for k, s in fractions.items()},
        "profile": asdict(profile) if profile else None,
        "soak": asdict(soak) if soak else None,
        "rss_mib": {
            "idle": rss_idle,
            "under_load": fractions["0.9"].rss_max_mib if "0.9" in fractions else {},
            "after": rss_after,
            "soak_growth_mib_per_h": {n: round(rss_growth(s), 1) for n, s in soak.rss_series.items()} if soak else {},
            "soak_minutes": args.soak_minutes if soak else 0,
        },
    }


# --------------------------------------------------------------------------- the floors


async def event_floor(args: argparse.Namespace) -> dict[str, Any]:
    _say(f"event floor, batched: a backlog of {args.floor_cases} cases drained")
    drained = await floor_events.run(args.floor_cases, mode="batched")
    sat = float(drained["cases_per_s"])
    _say(f"  {sat} cases/s")
    fractions = {}
    for fraction in FRACTIONS:
        rate = sat * fraction
        cases = max(20, round(rate * args.fraction_seconds))
        result = await floor_events.run(cases, mode="batched", rate=rate)
        fractions[f"{fraction:g}"] = {"rate": round(rate, 1), **result}
        _say(f"  at {fraction:.0%} ({rate:.0f}/s): end to end p99 {result['latency_ms']['end_to_end']['p99']} ms")
    return {"saturation": drained, "fractions": fractions}


async def http_floor(args: argparse.Namespace) -> dict[str, Any]:
    port = args.base_port + 90
    _say(f"HTTP floor: {args.http_requests} requests, closed loop at {args.concurrency} connections")
    closed = await floor_http.run(args.http_requests, concurrency=args.concurrency, port=port)
    sat = float(closed["requests_per_s"])
    fractions = {}
    for fraction in FRACTIONS:
        rate = sat * fraction
        requests = max(20, round(rate * args.fraction_seconds))
        result = await floor_http.run(requests, port=port, rate=rate)
        fractions[f"{fraction:g}"] = {"rate": round(rate, 1), **result}
        _say(f"  at {fraction:.0%} ({rate:.0f}/s): p99 {result['latency_ms']['p99']} ms")
    return {"saturation": closed, "fractions": fractions}


# --------------------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """What the figures ran on, read from this machine."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = float("nan")
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    postgres = "unknown"
    with contextlib.suppress(Exception):
        postgres = (local.load_settings().state_dir / "pg" / "data" / "PG_VERSION").read_text().strip()
    kafka = local.KAFKA_VERSION
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres_major": postgres,
        "kafka": kafka,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------- the whole run


async def run(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "arguments": {k: v for k, v in vars(args).items() if k not in {"out_dir", "docs", "no_docs"}},
    }
    if "floors" in args.parts:
        figures["event_floor"] = await event_floor(args)
        figures["http_floor"] = await http_floor(args)
        _say(f"Kipinä's intake alone: {args.http_requests} POST /cases, closed loop at {args.concurrency}")
        figures["intake_alone"] = await pipeline.submissions_alone(
            args.http_requests, args.concurrency, base_port=args.base_port
        )
    for mode in ("events", "http"):
        if mode in args.parts:
            figures[f"kipina_{mode}"] = await kipina_mode(mode, args, out_dir)
    kipina_half = (figures.get("kipina_http", {}).get("fractions", {}).get("0.5") or {}).get("rate")
    if "http_floor" in figures and kipina_half:
        # POST /cases p99 compared at one rate: the floor's own 50% is several times Kipinä's.
        _say(f"HTTP floor at Kipinä's 50% ({kipina_half:.1f}/s), for POST /cases p99 at an equal rate")
        requests = max(20, round(kipina_half * args.fraction_seconds))
        at_rate = await floor_http.run(requests, port=args.base_port + 90, rate=kipina_half)
        figures["http_floor"]["at_kipina_half"] = {"rate": round(kipina_half, 1), **at_rate}
    if args.lifecycle:
        _say(
            f"the full lifecycle: {args.lifecycle_cases} cases at {args.lifecycle_rate:g}/s, "
            "people played by the driver"
        )
        figures["lifecycle"] = await lifecycle.run(args.lifecycle_cases, args.lifecycle_rate, base_port=args.base_port)
        _say(f"  {figures['lifecycle']['completed_per_s']} cases/s completed; facts {figures['lifecycle']['facts']}")
    figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-port", type=int, default=pipeline.DEFAULT_BASE_PORT, help="services on base + 1 …")
    parser.add_argument("--parts", default="floors,events,http", help="which of floors, events, http to run")
    parser.add_argument(
        "--lifecycle", action="store_true", help="also the full lifecycle, people played by the driver (off by default)"
    )
    parser.add_argument("--lifecycle-cases", type=int, default=40, help="cases through the whole lifecycle")
    parser.add_argument("--lifecycle-rate", type=float, default=2.0, help="their Poisson arrival rate (/s)")
    parser.add_argument("--start-rate", type=float, default=20.0, help="the saturation search's first rate (/s)")
    parser.add_argument("--factor", type=float, default=1.5, help="each search step's rate over the previous one's")
    parser.add_argument("--max-rate", type=float, default=5000.0, help="the search stops here")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="arrivals per search step")
    parser.add_argument("--fraction-seconds", type=float, default=15.0, help="arrivals at 25%%, 50%%, 90%%")
    parser.add_argument("--profile-seconds", type=float, default=8.0, help="py-spy record at 50%%")
    parser.add_argument("--soak-minutes", type=float, default=1.0, help="the soak at 50%% (the issue asks for 30)")
    parser.add_argument("--floor-cases", type=int, default=5000, help="the event floor's drained backlog")
    parser.add_argument("--http-requests", type=int, default=1500, help="closed-loop POST /cases (floor, intake)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out-dir", type=Path, help="JSON and profiles (default <state dir>/bench/<time>)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the page whose generated section is rewritten")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ alone")
    args = parser.parse_args(argv)
    args.parts = tuple(p.strip() for p in args.parts.split(","))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir: Path = args.out_dir or local.load_settings().state_dir / "bench" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = asyncio.run(run(args, out_dir))
    (out_dir / "figures.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    from bench import plot, report

    plot_path = out_dir / "latency-vs-load.png"
    plot.latency_against_load(figures, plot_path)
    section = report.section(figures, plot_link="bench/latency-vs-load.png")
    (out_dir / "section.md").write_text(section)
    if not args.no_docs:
        PLOT.parent.mkdir(parents=True, exist_ok=True)
        PLOT.write_bytes(plot_path.read_bytes())
        args.docs.write_text(report.replace_section(args.docs.read_text(), section))
    print(section)
    _say(f"every figure: {out_dir / 'figures.json'}")


if __name__ == "__main__":
    main()

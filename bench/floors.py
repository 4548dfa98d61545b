"""The floors and the real system in one invocation, and Kipinä's figures as ratios to the floors.

    .venv/bin/python -m bench.floors                    # or: make bench-floors
    .venv/bin/python -m bench.floors --cases 10000 --single-cases 1000 --http-requests 2000 --pipeline-cases 500

Runs, one after the other on the same machine and infrastructure: the event floor batched and one message at a
time (bench/floor_events.py), the HTTP floor (bench/floor_http.py), intake alone under the same HTTP load, and the
pipeline benchmark of the four services (bench/pipeline.py). Prints the ratio table (Markdown) and writes every
figure as JSON (``--out``, by default ``<state dir>/bench/floors-<time>.json``). It asserts nothing about speed.

How the ratios read (docs/PERFORMANCE.md): the pipeline's cases/s is from the first HTTP submission until every
case is in review, so it holds the HTTP part too, which the event floor does not; its CPU per case is set against
the sum of the two floors' (an HTTP submission plus both hops). ``POST /cases`` is set beside the HTTP floor twice:
intake alone (as the floor runs), and inside the pipeline run, where three other services compete for the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import floor_events, floor_http, pipeline
from bench.measure import RatioRow, ratio_table
from deploy import local


def _flow_cpu_ms(kipina: dict[str, Any], names: tuple[str, ...]) -> float:
    cpu = kipina["cpu_s"]
    return sum(cpu.get(n, 0.0) for n in names) / kipina["in_review"] * 1000


def ratio_rows(
    batched: dict[str, Any],
    single: dict[str, Any],
    http: dict[str, Any],
    kipina: dict[str, Any],
    intake_alone: dict[str, Any],
) -> list[RatioRow]:
    """Kipinä's figures beside their floors."""
    floor_cpu = batched["cpu_ms_per_case"] + http["cpu_ms_per_request"]
    single_cpu = single["cpu_ms_per_case"] + http["cpu_ms_per_request"]
    return [
        RatioRow(
            "cases/s, HTTP → in review, vs event floor (batched)",
            kipina["cases_per_s"],
            batched["cases_per_s"],
            "cases/s",
        ),
        RatioRow(
            "cases/s, HTTP → in review, vs event floor (single)",
            kipina["cases_per_s"],
            single["cases_per_s"],
            "cases/s",
        ),
        RatioRow(
            "POST /cases req/s, intake alone, vs HTTP floor",
            intake_alone["requests_per_s"],
            http["requests_per_s"],
            "req/s",
        ),
        RatioRow(
            "POST /cases p99, intake alone, vs HTTP floor (same concurrency)",
            intake_alone["latency_ms"]["p99"],
            http["latency_ms"]["p99"],
            "ms",
            higher_is_better=False,
        ),
        RatioRow(
            "CPU per POST /cases, intake alone (+ Kafka, PostgreSQL), vs HTTP floor",
            intake_alone["cpu_ms_per_request"],
            http["cpu_ms_per_request"],
            "CPU-ms",
            higher_is_better=False,
        ),
        RatioRow(
            "POST /cases req/s in the pipeline (the other services busy) vs HTTP floor",
            kipina["submission"]["requests_per_s"],
            http["requests_per_s"],
            "req/s",
        ),
        RatioRow(
            "CPU per case, every process, vs HTTP + event floor (batched)",
            kipina["cpu_ms_per_case"],
            floor_cpu,
            "CPU-ms",
            higher_is_better=False,
        ),
        RatioRow(
            "CPU per case, intake + review + Kafka + PostgreSQL, vs the same",
            _flow_cpu_ms(kipina, ("intake", "review", "kafka", "postgres")),
            floor_cpu,
            "CPU-ms",
            higher_is_better=False,
        ),
        RatioRow(
            "CPU per case, every process, vs HTTP + event floor (single)",
            kipina["cpu_ms_per_case"],
            single_cpu,
            "CPU-ms",
            higher_is_better=False,
        ),
    ]


def _default_out() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return local.load_settings().state_dir / "bench" / f"floors-{stamp}.json"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


HTTP_FLOOR_PORT_OFFSET = 90  # the HTTP floor listens on base + 90, clear of the services' base + 1 … base + 4


def http_floor_port(base_port: int) -> int:
    return base_port + HTTP_FLOOR_PORT_OFFSET


async def run(
    *,
    cases: int,
    single_cases: int,
    http_requests: int,
    pipeline_cases: int,
    concurrency: int,
    max_records: int,
    base_port: int = pipeline.DEFAULT_BASE_PORT,
) -> dict[str, Any]:
    _say(f"event floor, batched: {cases} cases")
    batched = await floor_events.run(cases, mode="batched", max_records=max_records)
    _say(f"  {batched['cases_per_s']} cases/s, {batched['cpu_ms_per_case']} CPU-ms per case")
    _say(f"event floor, one message at a time: {single_cases} cases")
    single = await floor_events.run(single_cases, mode="single")
    _say(f"  {single['cases_per_s']} cases/s, {single['cpu_ms_per_case']} CPU-ms per case")
    _say(f"HTTP floor: {http_requests} requests, concurrency {concurrency}")
    http = await floor_http.run(http_requests, concurrency=concurrency, port=http_floor_port(base_port))
    _say(f"  {http['requests_per_s']} req/s, {http['cpu_ms_per_request']} CPU-ms per request")
    _say(f"Kipinä's intake alone: {http_requests} POST /cases, concurrency {concurrency}")
    intake_alone = await pipeline.submissions_alone(http_requests, concurrency, base_port=base_port)
    _say(f"  {intake_alone['requests_per_s']} req/s, {intake_alone['cpu_ms_per_request']} CPU-ms per request")
    _say(f"Kipinä: {pipeline_cases} cases over HTTP through intake → review → intake, concurrency {concurrency}")
    kipina = await pipeline.run(pipeline_cases, concurrency, base_port=base_port)
    rows = ratio_rows(batched, single, http, kipina, intake_alone)
    return {
        "when": datetime.now(UTC).isoformat(),
        "event_floor_batched": batched,
        "event_floor_single": single,
        "http_floor": http,
        "kipina_intake_alone": intake_alone,
        "kipina": kipina,
        "ratios": [{"figure": r.figure, "kipina": r.kipina, "floor": r.floor, "unit": r.unit} for r in rows],
        "table": ratio_table(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases through the event floor, batched")
    parser.add_argument("--single-cases", type=int, default=1_000, help="cases through it one message at a time")
    parser.add_argument("--http-requests", type=int, default=2_000, help="POST /cases to the HTTP floor")
    parser.add_argument("--pipeline-cases", type=int, default=500, help="cases through Kipinä (bench/pipeline.py)")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP connections, for the floor and for intake")
    parser.add_argument("--max-records", type=int, default=500, help="records per batch of the batched floor")
    parser.add_argument("--out", type=Path, help="where the figures go (JSON)")
    parser.add_argument(
        "--base-port",
        type=int,
        default=pipeline.DEFAULT_BASE_PORT,
        help="services on base + 1 … base + 4, the HTTP floor on base + 90",
    )
    args = parser.parse_args()
    figures = asyncio.run(
        run(
            cases=args.cases,
            single_cases=args.single_cases,
            http_requests=args.http_requests,
            pipeline_cases=args.pipeline_cases,
            concurrency=args.concurrency,
            max_records=args.max_records,
            base_port=args.base_port,
        )
    )
    out = args.out or _default_out()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print()
    print(figures["table"])
    print(f"\nevery figure: {out}")


if __name__ == "__main__":
    main()

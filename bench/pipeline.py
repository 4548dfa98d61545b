"""Benchmark: cases submitted over HTTP flowing intake → review → intake, on the real broker and databases.

    .venv/bin/python -m bench.pipeline --cases 500 --concurrency 16

Starts its own four service processes (databases ``bench_<service>``, consumer groups
pinned to the topics' end), then reports figures — it asserts nothing about speed:
* submission: requests per second and latency percentiles of ``POST /cases``;
* flow: time from the first submission until every case shows ``in_review`` in intake
  (intake → Kafka → review → outbox → Kafka → intake), and its percentiles per case;
* memory: resident set size of each service process before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from deploy import local
from deploy.stack import SERVICES, service_env, start_service, stop_process, wait_ready
from tests.support.harness import auth
from tests.support.infra import database_env_name, ensure_infra, own_database, reset_database, unique_group

OPERATOR = auth("operator", user="bench-op", org="org-bench-ops")
SUBMITTER = auth("submitter", user="bench-sub", org="org-bench", email="bench@example.org")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def case_body(call_id: str, n: int) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "title": f"Benchmark case number {n} {uuid.uuid4().hex[:6]}",
        "summary": "A summary long enough to pass validation.",
        "problem": "A problem statement long enough to pass validation.",
        "solution": "A solution statement long enough to pass validation.",
        "organisation": {"name": "Bench Org", "business_id": "0112038-9"},
        "category": "public_sector",
        "language": "en",
        "oecd_principles": [1],
        "iso_stage": "concept",
    }


async def run(cases: int, concurrency: int) -> None:
    env_base = ensure_infra()  # the tests' own servers: a running `make up` stack is not disturbed
    for spec in SERVICES:
        env_base[database_env_name(spec.name)] = await own_database(env_base, spec.name, f"bench_{spec.name}")
        await reset_database(env_base[database_env_name(spec.name)])
    os.environ.update(env_base)
    ports = {s.name: 18101 + i for i, s in enumerate(SERVICES)}
    for spec in SERVICES:
        env_base[f"{spec.env_prefix}CONSUMER_GROUP"] = unique_group(f"bench-{spec.name}")
        env_base[f"{spec.env_prefix}PORT"] = str(ports[spec.name])
    env_base["KIPINA_NOTIFY_SMTP_PORT"] = "1"  # no mail server: deliveries fail and retry, as they would
    env_base["KIPINA_LOG_LEVEL"] = "WARNING"
    env = service_env(env_base)
    logs = local.load_settings().state_dir / "logs" / "bench"
    processes = {s.name: start_service(s.name, env=env, log_path=logs / f"{s.name}.log") for s in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for name, url in urls.items():
            await asyncio.to_thread(wait_ready, url, timeout=120, process=processes[name])
        rss_before = {name: rss_mib(p.pid) for name, p in processes.items()}
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as http:
            now = datetime.now(UTC)
            call = (
                await http.post(
                    f"{urls['intake']}/calls",
                    headers=OPERATOR,
                    json={
                        "title": f"Benchmark call {uuid.uuid4().hex[:6]}",
                        "opens_at": (now - timedelta(hours=1)).isoformat(),
                        "closes_at": (now + timedelta(days=1)).isoformat(),
                        "categories": ["public_sector"],
                        "languages": ["en"],
                    },
                )
            ).json()
            latencies: list[float] = []
            submitted_at: dict[str, float] = {}
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(cases):
                queue.put_nowait(n)

            async def submitter() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    started = time.perf_counter()
                    response = await http.post(
                        f"{urls['intake']}/cases", headers=SUBMITTER, json=case_body(call["id"], n)
                    )
                    latencies.append(time.perf_counter() - started)
                    response.raise_for_status()
                    submitted_at[response.json()["id"]] = time.perf_counter()

            t0 = time.perf_counter()
            await asyncio.gather(*(submitter() for _ in range(concurrency)))
            submit_s = time.perf_counter() - t0
            print(
                f"submitted {cases} cases in {submit_s:.2f}s: {cases / submit_s:.0f} req/s; latency "
                f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms",
                flush=True,
            )

            in_review_at: dict[str, float] = {}
            deadline = time.perf_counter() + 300
            while len(in_review_at) < cases and time.perf_counter() < deadline:
                offset = 0
                while True:
                    page = (
                        await http.get(
                            f"{urls['intake']}/cases",
                            headers=SUBMITTER,
                            params={"status": "in_review", "limit": 200, "offset": offset},
                        )
                    ).json()
                    for item in page["items"]:
                        in_review_at.setdefault(item["id"], time.perf_counter())
                    offset += len(page["items"])
                    if offset >= page["total"] or not page["items"]:
                        break
                print(f"  {len(in_review_at)}/{cases} cases in review", flush=True)
                await asyncio.sleep(0.5)
            flow_s = time.perf_counter() - t0
            per_case = [in_review_at[c] - submitted_at[c] for c in in_review_at if c in submitted_at]
            print(
                f"all {len(in_review_at)} cases in review {flow_s:.2f}s after the first submission "
                f"({len(in_review_at) / flow_s:.0f} cases/s end to end); per case (±0.5 s polling) "
                f"median {statistics.median(per_case):.2f}s, p95 {percentile(per_case, 0.95):.2f}s",
                flush=True,
            )
        rss_after = {name: rss_mib(p.pid) for name, p in processes.items()}
        for name in urls:
            print(f"  {name:7} RSS {rss_before[name]:.0f} MiB → {rss_after[name]:.0f} MiB", flush=True)
    finally:
        for process in processes.values():
            stop_process(process.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args.cases, args.concurrency))


if __name__ == "__main__":
    main()

"""Benchmark: cases submitted over HTTP flowing intake → review → intake, on the real broker and databases.

    .venv/bin/python -m bench.pipeline --cases 500 --concurrency 16

Starts its own four service processes (databases ``bench_<service>``, consumer groups
pinned to the topics' end), then reports figures — it asserts nothing about speed:
* submission: requests per second and latency percentiles of ``POST /cases`` (bench/load.py's driver, the one
  that loads the HTTP floor too);
* flow: time from the first submission until every case is ``in_review`` in intake
  (intake → Kafka → review → outbox → Kafka → intake), and per case, from the services' own rows: hop 1 (the
  submitted event's outbox row → review's inbox claim), hop 2 (IterationOpenedV1's outbox row → intake's inbox
  claim) and end to end (the case's row → intake's claim);
* CPU-seconds of each service process, the broker and PostgreSQL while the cases flow, and per case;
* memory: resident set size of each service process before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.load import LoadResult, case_bytes, drive
from bench.mailsink import MailSink
from bench.measure import CpuMeter, latency_summary, per_case_ms
from deploy import local
from deploy.stack import SERVICES, service_env, start_service, stop_process, wait_ready
from tests.support.harness import auth
from tests.support.infra import database_env_name, ensure_infra, own_database, reset_database, unique_group

OPERATOR = auth("operator", user="bench-op", org="org-bench-ops")
SUBMITTER = auth("submitter", user="bench-sub", org="org-bench", email="bench@example.org")
SUBMITTED = "kipina.case.submitted.v1"
ITERATION_OPENED = "kipina.review.iteration_opened.v1"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _times(url: str, sql: str, *args: Any) -> dict[str, float]:
    """Case id → a timestamp (seconds since the epoch), from one of the services' own tables."""
    conn = await asyncpg.connect(url)
    try:
        return {str(r[0]): r[1].timestamp() for r in await conn.fetch(sql, *args)}
    finally:
        await conn.close()


async def hop_latencies(intake_url: str, review_url: str) -> tuple[dict[str, dict[str, float]], float | None]:
    """Per case, from the services' rows: the events' outbox rows (created with the change that caused them) and
    the inbox claims of the next service (the start of its transaction). The latest claim by intake too."""
    created = "SELECT message_key, created_at FROM outbox WHERE event_type = $1"
    claimed = "SELECT subject, processed_at FROM inbox WHERE consumer = $1 AND event_type = $2"
    submitted = await _times(intake_url, created, SUBMITTED)
    in_review = await _times(review_url, claimed, "review", SUBMITTED)
    opened = await _times(review_url, created, ITERATION_OPENED)
    tracked = await _times(intake_url, claimed, "intake", ITERATION_OPENED)
    hop1 = [in_review[c] - submitted[c] for c in in_review if c in submitted]
    hop2 = [tracked[c] - opened[c] for c in tracked if c in opened]
    end = [tracked[c] - submitted[c] for c in tracked if c in submitted]
    latencies = {"hop1": latency_summary(hop1), "hop2": latency_summary(hop2), "end_to_end": latency_summary(end)}
    return latencies, max(tracked.values(), default=None)


async def _in_review(intake_url: str) -> int:
    conn = await asyncpg.connect(intake_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM cases WHERE status = 'in_review'"))
    finally:
        await conn.close()


@dataclass
class Started:
    """Service processes of a benchmark, on databases ``bench_<service>`` emptied for it."""

    processes: dict[str, subprocess.Popen[bytes]]
    urls: dict[str, str]
    databases: dict[str, str]
    mail: MailSink | None = field(default=None)  # notify's SMTP server, when notify runs
    # Second instances (``start(..., second_instances=...)``): same database and consumer group, another port. The
    # driver talks to the first instances only; a fault test kills and restarts these.
    seconds: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    second_urls: dict[str, str] = field(default_factory=dict)
    second_envs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: Path | None = None

    def second_log(self, name: str) -> Path:
        """The log of ``name``'s second instance (each start appends to it)."""
        assert self.logs is not None
        return self.logs / f"{name}-2.log"

    async def start_second(self, name: str, *, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``name``'s second instance (again, after it died), its environment with ``extra_env`` on top (which
        replaces what the previous start had on top), and wait until it is ready."""
        env = {**self.second_envs[name], **(extra_env or {})}
        process = start_service(name, env=env, log_path=self.second_log(name))
        self.seconds[name] = process
        await asyncio.to_thread(wait_ready, self.second_urls[name], timeout=120, process=process)
        return process

    def stop(self) -> None:
        for process in [*self.processes.values(), *self.seconds.values()]:
            stop_process(process.pid)
        if self.mail is not None:
            self.mail.stop()


DEFAULT_BASE_PORT = 18100


def service_ports(base_port: int) -> dict[str, int]:
    """The services' HTTP ports of a benchmark: ``base_port`` + 1, 2, … in the registry's order (intake first), so
    two benchmarks on one machine do not meet when given different bases."""
    return {s.name: base_port + 1 + i for i, s in enumerate(SERVICES)}


async def start(
    names: tuple[str, ...],
    *,
    base_port: int = DEFAULT_BASE_PORT,
    extra_env: dict[str, str] | None = None,
    second_instances: dict[str, dict[str, str]] | None = None,
) -> Started:
    """Start these services (consumer groups pinned to the topics' end) and wait until they are ready.

    ``second_instances``: service → environment on top of the others', for a second instance of that service
    sharing its database and consumer group, on port ``base_port`` + 5, 6, … (the registry's order), started after
    the first instances are ready (a fault test kills them: ``Started.seconds``, ``Started.start_second``)."""
    env_base = ensure_infra()  # the tests' own servers: a running `make up` stack is not disturbed
    for spec in SERVICES:
        env_base[database_env_name(spec.name)] = await own_database(env_base, spec.name, f"bench_{spec.name}")
        if spec.name in names:
            await reset_database(env_base[database_env_name(spec.name)])
    # This process needs the broker's address (bench.run reads it), never the bench databases: a process that runs
    # the benchmark and then other work (the tests) keeps its own services' databases.
    os.environ.setdefault("KIPINA_KAFKA_BOOTSTRAP", env_base["KIPINA_KAFKA_BOOTSTRAP"])
    databases = {s.name: env_base[database_env_name(s.name)] for s in SERVICES}
    ports = service_ports(base_port)
    for spec in SERVICES:
        if spec.name in names:
            env_base[f"{spec.env_prefix}CONSUMER_GROUP"] = unique_group(f"bench-{spec.name}")
        env_base[f"{spec.env_prefix}PORT"] = str(ports[spec.name])
    # A real mail server that accepts every message: with none (a closed port), every delivery failed and was
    # retried, and notify's figures were those of its retries.
    mail = MailSink().start() if "notify" in names else None
    env_base["KIPINA_NOTIFY_SMTP_HOST"] = "127.0.0.1"
    env_base["KIPINA_NOTIFY_SMTP_PORT"] = str(mail.port if mail is not None else 1)
    env_base["KIPINA_LOG_LEVEL"] = "WARNING"
    # The benchmark drives POST /cases far past an agency's submission limits, from one address and a few
    # submitters: it measures throughput, not the limits (services/intake/throttling.py), so they are off.
    env_base["KIPINA_INTAKE_SUBMISSIONS_PER_SUBMITTER_PER_MINUTE"] = "0"
    env_base["KIPINA_INTAKE_SUBMISSIONS_PER_ADDRESS_PER_MINUTE"] = "0"
    env_base.update(extra_env or {})
    env = service_env(env_base)
    logs = local.load_settings().state_dir / "logs" / "bench"
    try:
        processes = {n: start_service(n, env=env, log_path=logs / f"{n}.log") for n in names}
    except BaseException:
        if mail is not None:
            mail.stop()
        raise
    started = Started(processes, {n: f"http://127.0.0.1:{ports[n]}" for n in names}, databases, mail, logs=logs)
    try:
        for name, url in started.urls.items():
            await asyncio.to_thread(wait_ready, url, timeout=120, process=processes[name])
        for i, spec in enumerate(SERVICES):
            if spec.name in (second_instances or {}):
                port = base_port + 1 + len(SERVICES) + i
                own = {f"{spec.env_prefix}PORT": str(port), **(second_instances or {})[spec.name]}
                started.second_envs[spec.name] = {**env, **own}
                started.second_urls[spec.name] = f"http://127.0.0.1:{port}"
                started.second_log(spec.name).unlink(missing_ok=True)  # read by the test: this run's lines only
                await started.start_second(spec.name)
    except BaseException:
        started.stop()
        raise
    return started


async def open_call(intake: str) -> str:
    """A call open for submissions now, made through intake's API; its id."""
    async with httpx.AsyncClient(timeout=30) as http:
        now = datetime.now(UTC)
        response = await http.post(
            f"{intake}/calls",
            headers=OPERATOR,
            json={
                "title": f"Benchmark call {uuid.uuid4().hex[:6]}",
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=1)).isoformat(),
                "categories": ["public_sector"],
                "languages": ["en"],
            },
        )
        response.raise_for_status()
        return str(response.json()["id"])


async def submit(intake: str, call_id: str, *, requests: int, concurrency: int) -> LoadResult:
    """``POST /cases`` with bench/load.py's driver, as the submitter."""
    return await drive(
        f"{intake}/cases",
        requests=requests,
        concurrency=concurrency,
        body_for=case_bytes(call_id),
        headers=SUBMITTER,
    )


async def submissions_alone(requests: int, concurrency: int, *, base_port: int = DEFAULT_BASE_PORT) -> dict[str, Any]:
    """``POST /cases`` with intake the only service running (its relay publishing, nobody consuming): the figure
    to set beside the HTTP floor, which runs alone too."""
    started = await start(("intake",), base_port=base_port)
    try:
        call_id = await open_call(started.urls["intake"])
        meter = CpuMeter({"intake": started.processes["intake"].pid})
        meter.start()
        result = await submit(started.urls["intake"], call_id, requests=requests, concurrency=concurrency)
        cpu = meter.stop()
    finally:
        started.stop()
    return {
        "system": "kipina intake alone",
        "concurrency": concurrency,
        **result.figures(),
        "cpu_s": cpu,
        "cpu_ms_per_request": per_case_ms(cpu["total"], requests),
    }


async def run(cases: int, concurrency: int, *, base_port: int = DEFAULT_BASE_PORT) -> dict[str, Any]:
    """One run; prints as it goes and returns the figures."""
    started = await start(tuple(s.name for s in SERVICES), base_port=base_port)
    processes, urls = started.processes, started.urls
    intake_url, review_url = started.databases["intake"], started.databases["review"]
    try:
        rss_before = {name: rss_mib(p.pid) for name, p in processes.items()}
        call_id = await open_call(urls["intake"])
        meter = CpuMeter({name: p.pid for name, p in processes.items()})
        meter.start()
        t0 = time.time()
        submission = await submit(urls["intake"], call_id, requests=cases, concurrency=concurrency)
        latency = submission.figures()["latency_ms"]
        assert isinstance(latency, dict)
        print(
            f"submitted {cases} cases in {submission.seconds:.2f}s: {submission.requests_per_s:.0f} req/s; latency "
            f"p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, p99 {latency['p99']:.1f} ms"
            + (f"; failures: {submission.first_failure}" if submission.first_failure else ""),
            flush=True,
        )
        deadline = time.monotonic() + 300
        done = 0
        while done < cases and time.monotonic() < deadline:
            done = await _in_review(intake_url)
            await asyncio.sleep(0.1)
        cpu = meter.stop()
        rss_after = {name: rss_mib(p.pid) for name, p in processes.items()}
    finally:
        started.stop()
    latencies, last = await hop_latencies(intake_url, review_url)
    flow_s = (last - t0) if last is not None else float("nan")
    print(
        f"all {done} cases in review {flow_s:.2f}s after the first submission ({done / flow_s:.0f} cases/s end to "
        f"end); per case hop 1 p50 {latencies['hop1']['p50']:.0f} ms, hop 2 p50 {latencies['hop2']['p50']:.0f} ms, "
        f"end to end p50 {latencies['end_to_end']['p50']:.0f} ms, p95 {latencies['end_to_end']['p95']:.0f} ms",
        flush=True,
    )
    print(f"  CPU-seconds while the cases flowed: {cpu} ({per_case_ms(cpu['total'], done):.1f} ms per case)")
    for name in urls:
        print(f"  {name:7} RSS {rss_before[name]:.0f} MiB → {rss_after[name]:.0f} MiB", flush=True)
    return {
        "system": "kipina",
        "cases": cases,
        "in_review": done,
        "submission": {"concurrency": concurrency, **submission.figures()},
        "flow_seconds": round(flow_s, 3),
        "cases_per_s": round(done / flow_s, 1),
        "latency_ms": latencies,
        "cpu_s": cpu,
        "cpu_ms_per_case": per_case_ms(cpu["total"], done),
        "rss_mib": {name: [round(rss_before[name]), round(rss_after[name])] for name in urls},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, help="also write the figures (JSON) here")
    parser.add_argument(
        "--base-port", type=int, default=DEFAULT_BASE_PORT, help="the services listen on base + 1 … base + 4"
    )
    args = parser.parse_args()
    figures = asyncio.run(run(args.cases, args.concurrency, base_port=args.base_port))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

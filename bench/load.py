"""A light HTTP/1.1 load driver. Closed loop (``drive``): a fixed number of keep-alive connections, each sending
its next request as soon as the previous answer is read. Open loop (``drive_open``): each request sent at its
scheduled time (Poisson arrivals, bench/run.py), whatever the server is doing.

The same driver serves the HTTP floor (bench/floor_http.py) and the real intake (bench/pipeline.py), so the two
are loaded alike. It is hand-written on asyncio streams rather than httpx because on a 2-core machine the
driver's own CPU competes with the server it measures (about 0.15 CPU-ms a request here).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.measure import latency_summary


def case_body(call_id: str, n: int) -> dict[str, Any]:
    """The submission every benchmark sends to ``POST /cases`` (a title of its own, so none is a duplicate)."""
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


def case_bytes(call_id: str) -> Callable[[int], bytes]:
    """``body_for`` of ``drive`` sending ``case_body``."""
    return lambda n: json.dumps(case_body(call_id, n)).encode()


class ProtocolError(Exception):
    """The server answered something this driver does not read."""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_s: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    first_failure: str | None = None

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    def figures(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_s": round(self.requests_per_s, 1),
            "latency_ms": latency_summary(self.latencies_s),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "first_failure": self.first_failure,
        }


def request_bytes(
    method: str, host: str, path: str, headers: Mapping[str, str], body: bytes, *, content_type: str
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Type: {content_type}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One response: its status, its body and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"])), keep_alive
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks), keep_alive
            chunks.append(chunk[:-2])
    raise ProtocolError(f"a response without Content-Length or chunked encoding (status {status})")


def _target(url: str) -> tuple[str, int, str, str]:
    """Host, port, path and Host header of ``url``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    return host, port, parts.path or "/", f"{host}:{port}"


async def drive(
    url: str,
    *,
    requests: int,
    concurrency: int,
    body_for: Callable[[int], bytes],
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
    content_type: str = "application/json",
    on_response: Callable[[int, int, bytes], None] | None = None,
) -> LoadResult:
    """Send ``requests`` requests (body ``body_for(n)``) to ``url`` over ``concurrency`` connections.

    ``on_response(n, status, body)`` sees each answer (the pipeline benchmark takes the case id from it).
    """
    host, port, path, host_header = _target(url)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    next_n = iter(range(requests))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in next_n:
                started = time.perf_counter()
                writer.write(
                    request_bytes(method, host_header, path, headers or {}, body_for(n), content_type=content_type)
                )
                status, body, keep_alive = await read_response(reader)
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if status >= 400 and not failures:
                    failures.append(f"{status}: {body[:500].decode(errors='replace')}")
                if on_response is not None:
                    on_response(n, status, body)
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return LoadResult(
        requests=requests,
        seconds=time.perf_counter() - started,
        latencies_s=latencies,
        statuses=statuses,
        first_failure=failures[0] if failures else None,
    )


async def drive_open(
    url: str,
    *,
    schedule: Sequence[float],
    body_for: Callable[[int], bytes],
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
    content_type: str = "application/json",
    on_response: Callable[[int, int, bytes], None] | None = None,
    max_connections: int = 256,
    started: float | None = None,
) -> LoadResult:
    """Open loop: request ``n`` is sent at ``schedule[n]`` seconds after the start, whether or not earlier answers
    have come (bench/analysis.py ``poisson_schedule``). Each goes on an idle keep-alive connection, or a new one
    while fewer than ``max_connections`` are open; past that it waits for one.

    Latency runs from the request's scheduled time, not from when it was written, so a server that falls behind
    is charged for the wait (no coordinated omission). ``started`` is the ``time.perf_counter()`` of the schedule's
    zero (now when None)."""
    host, port, path, host_header = _target(url)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    opened: list[asyncio.StreamWriter] = []
    zero = time.perf_counter() if started is None else started

    async def connection() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if idle.empty() and len(opened) < max_connections:
            reader, writer = await asyncio.open_connection(host, port)
            opened.append(writer)
            return reader, writer
        return await idle.get()

    async def one(n: int, due: float) -> None:
        reader, writer = await connection()
        writer.write(request_bytes(method, host_header, path, headers or {}, body_for(n), content_type=content_type))
        status, body, keep_alive = await read_response(reader)
        latencies.append(time.perf_counter() - due)
        statuses[status] += 1
        if status >= 400 and not failures:
            failures.append(f"{status}: {body[:500].decode(errors='replace')}")
        if on_response is not None:
            on_response(n, status, body)
        if keep_alive:
            idle.put_nowait((reader, writer))
        else:
            writer.close()
            opened.remove(writer)

    tasks: list[asyncio.Task[None]] = []
    for n, offset in enumerate(schedule):
        due = zero + offset
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    try:
        await asyncio.gather(*tasks)
    finally:
        for writer in opened:
            writer.close()
    return LoadResult(
        requests=len(schedule),
        seconds=time.perf_counter() - zero,
        latencies_s=latencies,
        statuses=statuses,
        first_failure=failures[0] if failures else None,
    )

"""The whole lifecycle under a fault: bench/lifecycle.py's people drive cases while a test breaks the infrastructure.

A ``Flow`` starts the four services as processes (bench/pipeline.py ``start``: their own ``bench_*`` databases,
notify given a real SMTP sink), opens a call with its criteria and jury, and lets bench/lifecycle.py's submitters,
reviewers, jurors and operator play every case through the public HTTP APIs. The test waits for a fact that shows
cases in flight (``when``), injects its fault, and at the end ``settle`` waits until every case reached its final
state and notify has nothing left to send; ``verdict`` then counts what users would see wrong:

- cases lost: submitted (intake answered 201) but never at their planned final state (published with the
  operator's outcome, or rejected);
- duplicate results: a case published or rejected more than once;
- duplicate notifications: an e-mail (recipient, template, case) received more than once by the SMTP sink, or
  an in-app feed item (submitter, case, template) more than once;
- missing notifications: what a submitter must hear of each case's fate (``expected_templates``), by e-mail and
  in the feed, and each nominated case's two jurors' ``jurors_assigned`` and ``case_decided``.

People retry what a person would: an answer 503 (the service's database is away) or a connection refused or cut.
Submissions carry an Idempotency-Key, so a submission sent again is answered with the case it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import lifecycle, pipeline
from bench.analysis import poisson_schedule
from bench.lifecycle import JURORS, JURORS_PER_CASE, REJECT, Lifecycle, expected_templates
from tests.support.reliability import Row

FINAL = ("published", "rejected")


class RidesThrough(httpx.AsyncBaseTransport):
    """Sends a request again after a 503 or a refused/cut connection, as a person (or a careful client) would."""

    def __init__(self, *, give_up_after_s: float = 180.0, pause_s: float = 0.5) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._give_up_after_s = give_up_after_s
        self._pause_s = pause_s
        self.retries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self._give_up_after_s
        while True:
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            else:
                if response.status_code != 503 or time.monotonic() > deadline:
                    return response
                await response.aread()
                await response.aclose()
            self.retries += 1
            await asyncio.sleep(self._pause_s)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class Progress:
    """Where the cases are, from intake's rows and the driver's own count of submissions."""

    cases: int
    submitted: int  # answered 201 by intake
    reached_review: int  # any status past "submitted"
    final: int  # published or rejected

    @property
    def in_flight(self) -> int:
        return self.submitted - self.final

    def describe(self) -> str:
        return f"{self.submitted} of {self.cases} submitted, {self.reached_review} reached review, {self.final} final"


@dataclass
class Verdict:
    cases_driven: int
    cases_lost: list[str] = field(default_factory=list)
    duplicate_results: list[str] = field(default_factory=list)
    wrong_outcomes: list[str] = field(default_factory=list)
    duplicate_mail: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    duplicate_feed: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    missing_mail: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    missing_feed: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    @property
    def duplicates_seen(self) -> int:
        """Everything a person would see twice: results, e-mails, feed items."""
        return len(self.duplicate_results) + sum(self.duplicate_mail.values()) + sum(self.duplicate_feed.values())

    @property
    def missing_notifications(self) -> int:
        return sum(self.missing_mail.values()) + sum(self.missing_feed.values())

    def problems(self) -> dict[str, Any]:
        found = {
            "cases lost": self.cases_lost[:5],
            "duplicate results": self.duplicate_results[:5],
            "wrong outcomes": self.wrong_outcomes[:5],
            "duplicate e-mails": list(self.duplicate_mail.items())[:5],
            "duplicate feed items": list(self.duplicate_feed.items())[:5],
            "missing e-mails": list(self.missing_mail.items())[:5],
            "missing feed items": list(self.missing_feed.items())[:5],
        }
        return {k: v for k, v in found.items() if v}

    def record_and_check(self, row: Row, *, cases: int, settled: bool) -> None:
        """Write the scenario's row from what was counted, then require every case driven, settled, and no
        problem (the row is written first, so a failing scenario's row shows what went wrong)."""
        row.cases_driven = self.cases_driven
        row.cases_lost = len(self.cases_lost) + self.missing_notifications
        row.duplicates_seen = self.duplicates_seen
        assert self.cases_driven == cases
        assert settled and not self.problems(), self.problems()


def free_base_port() -> int:
    """A base port whose next four (the services' ports, bench/pipeline.py ``service_ports``) are free now.

    Below the kernel's ephemeral range: a port from that range, free when looked at, may be taken by any outgoing
    connection (a Kafka client's, another test's) before the service binds it.
    """
    low = 20000
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    while True:
        base = rng.randrange(20000, max(20001, low - 5))  # above the fixed ports of the infrastructure (15xxx-19xxx)
        if all(_free(base + i) for i in range(1, 5)):
            return base


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Flow:
    """Cases flowing through the four running services; see the module's docstring."""

    def __init__(self, started: pipeline.Started, *, cases: int, rate: float, seed: int, held: int = 0) -> None:
        rng = random.Random(seed)
        self.started = started
        self.plans = lifecycle.plan_cases(cases, rng)
        self.schedule = poisson_schedule(rate, cases, rng)
        # The last ``held`` cases arrive only after ``release``: a second wave for a second fault.
        self._first_held = cases - held
        self.transport = RidesThrough()
        self.life = Lifecycle(
            started, tag=uuid.uuid4().hex[:6], publish_every_s=1.0, poll_s=0.3, transport=self.transport
        )
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def cases(self) -> int:
        return len(self.plans)

    async def start(self) -> None:
        await self.life.setup()
        zero = time.perf_counter()
        life = self.life
        self._tasks = [
            asyncio.create_task(actor)
            for actor in (
                *(life.reviewer(r) for r in lifecycle.REVIEWERS),
                *(life.juror(j) for j in JURORS),
                life.operator(),
                life.publisher(),
                *self._submitters(0, self._first_held, zero),
            )
        ]

    def _submitters(self, first: int, end: int, zero: float) -> list[Any]:
        shift = self.schedule[first] if first < len(self.schedule) else 0.0
        return [self.life.submitter(self.plans[n], self.schedule[n] - shift, zero) for n in range(first, end)]

    def release(self) -> None:
        """The held cases start arriving now, at the same pace."""
        zero = time.perf_counter()
        self._tasks += [asyncio.create_task(s) for s in self._submitters(self._first_held, self.cases, zero)]
        self._first_held = self.cases

    def _check_people(self) -> None:
        """A person who failed (an answer they could not take) stops the flow with its error."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"a person of the lifecycle failed: {task.exception()!r}") from task.exception()

    async def progress(self) -> Progress | None:
        """Where the cases are; None while intake's database does not answer (a fault may be under way)."""
        try:
            conn = await asyncpg.connect(self.started.databases["intake"], timeout=5)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return None
        try:
            rows = await conn.fetch(
                "SELECT status, count(*) AS n FROM cases WHERE call_id = $1 GROUP BY status",
                uuid.UUID(self.life.call_id),
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return None
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
        by_status = {r["status"]: r["n"] for r in rows}
        return Progress(
            cases=self.cases,
            submitted=len(self.life.cases),
            reached_review=sum(n for s, n in by_status.items() if s != "submitted"),
            final=sum(by_status.get(s, 0) for s in FINAL),
        )

    async def when(self, fact: Callable[[Progress], bool], *, what: str, timeout: float = 180.0) -> Progress:
        """Wait until ``fact`` holds of the cases' progress (the people keep going meanwhile)."""
        deadline = time.monotonic() + timeout
        last: Progress | None = None
        while time.monotonic() < deadline:
            self._check_people()
            last = await self.progress() or last
            if last is not None and fact(last):
                return last
            await asyncio.sleep(0.2)
        raise AssertionError(f"{what}: not within {timeout:.0f}s ({last.describe() if last else 'no progress'})")

    async def readiness(self) -> dict[str, bool]:
        """Each service's own word on whether its database and Kafka answer (``/health/ready``)."""
        found = {}
        async with httpx.AsyncClient(timeout=10) as http:
            for name, url in self.started.urls.items():
                try:
                    found[name] = (await http.get(f"{url}/health/ready")).status_code == 200
                except httpx.TransportError:
                    found[name] = False
        return found

    async def until_every_service(self, ready: bool, *, timeout: float = 120.0) -> None:
        """Wait until every service reports itself ready (or, with ``ready`` False, not ready)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_people()
            found = await self.readiness()
            if all(r == ready for r in found.values()):
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"not every service {'ready' if ready else 'unready'} within {timeout:.0f}s: {found}")

    async def outage(self, *, stop: Callable[[], None], start: Callable[[], None], row: Row) -> None:
        """Take away something every service needs (``stop``, in a thread), until every service has felt it (each
        reports itself not ready), then bring it back (``start``) and wait until every service is ready again."""
        try:
            await asyncio.to_thread(stop)
            row.faults_injected += 1
            await self.until_every_service(ready=False)
        finally:
            await asyncio.to_thread(start)
        await self.until_every_service(ready=True)

    async def settle(self, *, timeout: float = 300.0) -> bool:
        """Wait until every case is final and notify has sent what it will; False if that did not come in time."""
        deadline = time.monotonic() + timeout
        try:
            await self.when(lambda p: p.final >= self.cases, what="every case final", timeout=timeout)
        except AssertionError:
            return False
        while time.monotonic() < deadline:
            self._check_people()
            if await self._notify_idle() and not (await self.verdict()).missing_notifications:
                return True
            await asyncio.sleep(0.5)
        return False

    async def _notify_idle(self) -> bool:
        totals = await lifecycle._deliveries(self.life.http, self.started.urls["notify"])
        return not (totals["pending"] or totals["sending"])

    async def verdict(self) -> Verdict:
        by_id = {case_id: state.plan for case_id, state in self.life.cases.items()}
        history, _, outcomes = await lifecycle.history(self.started.databases["intake"], list(by_id))
        verdict = Verdict(cases_driven=len(by_id))
        for case_id, plan in by_id.items():
            statuses = Counter(history.get(case_id, ()))
            want = "rejected" if plan.fate == REJECT else "published"
            if statuses[want] == 0:
                verdict.cases_lost.append(case_id)
            elif statuses[want] > 1 or statuses["rejected" if want == "published" else "published"]:
                verdict.duplicate_results.append(case_id)
            elif want == "published" and outcomes.get(case_id) != plan.outcome:
                verdict.wrong_outcomes.append(case_id)
        assert self.started.mail is not None
        mail = Counter(
            (parseaddr(r.to)[1], r.template, r.case_id) for r in self.started.mail.received if r.case_id in by_id
        )
        verdict.duplicate_mail = Counter({k: n - 1 for k, n in mail.items() if n > 1})
        expected = self._expected_mail()
        verdict.missing_mail = Counter({k: n - mail[k] for k, n in expected.items() if mail[k] < n})
        feed = await self._feeds()
        verdict.duplicate_feed = Counter({k: n - 1 for k, n in feed.items() if n > 1})
        expected_feed = self._expected_feed()
        verdict.missing_feed = Counter({k: n - feed[k] for k, n in expected_feed.items() if feed[k] < n})
        return verdict

    def _expected_mail(self) -> Counter[tuple[str, str, str]]:
        """Each submitter hears their case's fate; each nominated case's jurors are told twice (assigned, decided).

        The jurors of a case are the jury's choice, so for them only the count per case is known: two of each."""
        expected: Counter[tuple[str, str, str]] = Counter()
        juror_mail = Counter(
            (r.template, r.case_id)
            for r in (self.started.mail.received if self.started.mail else [])
            if parseaddr(r.to)[1] in {j["email"] for j in JURORS}
        )
        for case_id, state in self.life.cases.items():
            email = lifecycle._submitter(state.plan.submitter, self.life.tag)[1]
            for template, n in expected_templates(state.plan.fate).items():
                expected[(email, template, case_id)] = n
            if state.plan.fate != REJECT:
                for template in ("jurors_assigned", "case_decided"):
                    # Not per juror (the jury's choice): short of two, the missing ones are counted under "jurors".
                    if juror_mail[(template, case_id)] < JURORS_PER_CASE:
                        expected[("jurors", template, case_id)] = JURORS_PER_CASE - juror_mail[(template, case_id)]
        return expected

    def _expected_feed(self) -> Counter[tuple[str, str, str]]:
        expected: Counter[tuple[str, str, str]] = Counter()
        for case_id, state in self.life.cases.items():
            for template, n in expected_templates(state.plan.fate).items():
                expected[(str(state.plan.submitter), template, case_id)] = n
        return expected

    async def _feeds(self) -> Counter[tuple[str, str, str]]:
        """Every submitter's in-app feed items of these cases, by (submitter, template, case)."""
        found: Counter[tuple[str, str, str]] = Counter()
        ours = set(self.life.cases)
        for submitter in sorted({s.plan.submitter for s in self.life.cases.values()}):
            headers, _ = lifecycle._submitter(submitter, self.life.tag)
            offset, total = 0, 1
            while offset < total:
                response = await self.life.http.get(
                    f"{self.started.urls['notify']}/feed", headers=headers, params={"limit": 100, "offset": offset}
                )
                response.raise_for_status()
                page = response.json()
                total, offset = page["total"], offset + 100
                found.update(
                    (str(submitter), item["template"], str(item["case_id"]))
                    for item in page["items"]
                    if str(item["case_id"]) in ours
                )
        return found

    async def stop(self) -> None:
        self.life.stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.life.close()


@contextlib.asynccontextmanager
async def flowing(
    *, cases: int, rate: float, seed: int = 9, held: int = 0, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[Flow]:
    """The four services started on free ports, and ``cases`` cases arriving at ``rate`` per second (the last
    ``held`` of them once the test calls ``Flow.release``)."""
    env = {"KIPINA_LOG_LEVEL": "INFO", **(extra_env or {})}
    started = await pipeline.start(tuple(s.name for s in pipeline.SERVICES), base_port=free_base_port(), extra_env=env)
    flow = Flow(started, cases=cases, rate=rate, seed=seed, held=held)
    try:
        await flow.start()
        yield flow
    finally:
        await flow.stop()
        started.stop()

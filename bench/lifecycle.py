"""The full lifecycle under load: the load driver plays every person, through the services' public HTTP APIs only.

    .venv/bin/python -m bench.run --parts none --lifecycle --lifecycle-cases 40 --lifecycle-rate 2

The four services start on their own (bench/pipeline.py ``start``: fresh ``bench_*`` databases, notify given a real
SMTP server, bench/mailsink.py). Then, with tokens minted as the tests mint them (tests/support/harness.py):

* the operator opens a call (intake), waits for awards to learn it, sets its criteria and a jury of three,
  two jurors per case (awards);
* submitters (four, one organisation) submit cases at Poisson arrivals (``POST /cases``); each case's fate is
  drawn beforehand (``plan_cases``): nominated at once, changes requested first, or rejected;
* reviewers claim tasks and decide by the case's fate; when changes were requested the case's submitter waits
  for ``changes_requested``, reads the feedback points and revises addressing them, and the revised case's new
  task is nominated;
* jurors poll their open assignments and score every criterion;
* the operator decides each case once both its jurors scored, and publishes the call's decided results every
  ``publish_every_s`` (publication releases every decided case of the call at once, and can be repeated).

A case is complete when intake shows it ``published`` (nominated) or ``rejected``. Measured: completed cases
per second, submission → published (and → rejected) per case from intake's ``case_status_history``, requests per
second per service (the driver counts its own), CPU-seconds of every process per completed case, and notify's
deliveries (its ``GET /deliveries`` totals and what the SMTP server received), each submitter's checked against
what their cases' fates make them hear (``expected_templates``). Facts are reported, never asserted about speed.

The pure parts (``plan_cases``, ``expected_templates``, ``expected_by_submitter``, ``facts_of``,
``rates_per_service``) have unit tests in tests/unit/bench/test_lifecycle.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import structlog

from bench import pipeline
from bench.analysis import poisson_schedule
from bench.load import case_body
from bench.measure import CpuMeter, latency_summary, per_case_ms
from tests.e2e.steps import awards_knows_call
from tests.support.harness import auth, eventually

log = structlog.get_logger("bench.lifecycle")

NOMINATE, CHANGES, REJECT = "nominate", "changes", "reject"
OUTCOMES = ("award_winner", "honourable_mention", "finalist", "not_awarded")
CRITERIA = [
    {"key": "impact", "name": "Impact", "weight": 2, "scale_min": 0, "scale_max": 5},
    {"key": "novelty", "name": "Novelty", "weight": 1, "scale_min": 0, "scale_max": 5},
    {"key": "feasibility", "name": "Feasibility", "weight": 1, "scale_min": 0, "scale_max": 5},
]
JURORS_PER_CASE = 2
PAGE = 100


# --------------------------------------------------------------------------- pure: the plan and what it implies


@dataclass(frozen=True)
class CasePlan:
    """What will become of case ``n``: its submitter (index), its review fate, and the jury's outcome when
    nominated."""

    n: int
    submitter: int
    fate: str
    outcome: str | None


def plan_cases(
    count: int,
    rng: random.Random,
    *,
    submitters: int = 4,
    changes_share: float = 0.3,
    reject_share: float = 0.2,
) -> list[CasePlan]:
    """Each case's fate drawn independently: changes requested first with ``changes_share``, rejected with
    ``reject_share``, otherwise nominated straight away; a nominated case's outcome drawn from ``OUTCOMES``;
    submitters taken in turn."""
    if not 0 <= changes_share + reject_share <= 1:
        raise ValueError("changes_share + reject_share must be within [0, 1]")
    plans = []
    for n in range(count):
        draw = rng.random()
        fate = CHANGES if draw < changes_share else REJECT if draw < changes_share + reject_share else NOMINATE
        outcome = None if fate == REJECT else rng.choice(OUTCOMES)
        plans.append(CasePlan(n, n % submitters, fate, outcome))
    return plans


def plan_of_seed(count: int, seed: int | None) -> list[CasePlan]:
    """The plan ``run`` draws for ``seed`` (its first draws; the arrivals come after)."""
    return plan_cases(count, random.Random(seed))


def expected_templates(fate: str) -> Counter[str]:
    """The messages a case's submitter hears of it (docs/people.md), by its fate."""
    if fate == REJECT:
        return Counter(["case_submitted", "case_rejected"])
    heard = ["case_submitted", "case_nominated", "results_published"]
    if fate == CHANGES:
        heard += ["changes_requested", "revision_received"]
    return Counter(heard)


def expected_by_submitter(plans: Iterable[CasePlan]) -> dict[int, Counter[str]]:
    """Each submitter's messages over all their cases."""
    expected: dict[int, Counter[str]] = {}
    for plan in plans:
        expected.setdefault(plan.submitter, Counter()).update(expected_templates(plan.fate))
    return expected


def facts_of(
    plans: Mapping[str, CasePlan], history: Mapping[str, Sequence[str]], outcomes: Mapping[str, str | None]
) -> dict[str, Any]:
    """Whether every case ended as planned: a nominated one ``published`` exactly once with the operator's
    outcome (and never rejected), a rejected one ``rejected`` exactly once (and never published); ``history`` is
    each case's statuses in order (intake's ``case_status_history``), ``outcomes`` its final outcome."""
    published_once = rejected_once = wrong = 0
    for case_id, plan in plans.items():
        statuses = Counter(history.get(case_id, ()))
        if plan.fate == REJECT:
            good = statuses["rejected"] == 1 and statuses["published"] == 0
            rejected_once += good
        else:
            good = statuses["published"] == 1 and statuses["rejected"] == 0 and outcomes.get(case_id) == plan.outcome
            published_once += good
        wrong += not good
    return {
        "cases": len(plans),
        "published_once_with_outcome": published_once,
        "rejected_once": rejected_once,
        "not_as_planned": wrong,
        "as_planned": wrong == 0,
    }


def repeated(received: Iterable[Any]) -> dict[str, int]:
    """Messages received beyond the first: of one delivery (``delivery_id``: sent again), and of one message to one
    person (``to``, ``template``, ``case_id``: what they would see twice, whichever way it came about)."""
    received = list(received)
    deliveries = Counter(r.delivery_id for r in received)
    messages = Counter((r.to, r.template, r.case_id) for r in received)
    return {
        "same_delivery": sum(n - 1 for n in deliveries.values()),
        "same_message_to_one_person": sum(n - 1 for n in messages.values()),
    }


def rates_per_service(requests: Mapping[str, int], seconds: float) -> dict[str, float]:
    """Requests per second the driver sent each service over ``seconds``."""
    return {name: round(n / seconds, 2) if seconds > 0 else float("nan") for name, n in sorted(requests.items())}


# --------------------------------------------------------------------------- the people


def _submitter(i: int, tag: str) -> tuple[dict[str, str], str]:
    email = f"sub-{i}-{tag}@bench.example"
    return auth("submitter", user=f"bench-sub-{i}-{tag}", org="org-bench", email=email), email


OPERATOR = auth("operator", user="bench-op", org="org-bench-ops")
REVIEWERS = [auth("reviewer", user=f"bench-rev-{i}", org="org-bench-review") for i in range(2)]
JURORS = [
    {
        "user_id": f"bench-juror-{i}",
        "name": f"Juror {i}",
        "email": f"juror-{i}@bench.example",
        "language": "en",
        "organisation_id": f"org-bench-jury-{i}",
    }
    for i in range(3)
]


def _ok(response: httpx.Response, *status: int) -> Any:
    if response.status_code not in (status or (200,)):
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else None


@dataclass
class CaseState:
    plan: CasePlan
    case_id: str
    submitter: dict[str, str]
    rounds: int = 0  # review decisions taken on it
    scores: int = 0
    changes_requested: asyncio.Event = field(default_factory=asyncio.Event)


class Lifecycle:
    """One run of the lifecycle on started services."""

    def __init__(
        self,
        started: pipeline.Started,
        *,
        tag: str,
        publish_every_s: float,
        poll_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.started = started
        self.tag = tag
        self.publish_every_s = publish_every_s
        self.poll_s = poll_s
        self.requests: Counter[str] = Counter()
        port_of = {urlsplit(u).port: name for name, u in started.urls.items()}

        async def count(request: httpx.Request) -> None:
            self.requests[port_of.get(request.url.port, "other")] += 1

        # ``transport``: the fault tests' retries of what a person would try again (tests/faults/flow.py).
        self.http = httpx.AsyncClient(timeout=60, event_hooks={"request": [count]}, transport=transport)
        self.cases: dict[str, CaseState] = {}
        self.known = asyncio.Condition()
        self.ready: asyncio.Queue[CaseState] = asyncio.Queue()  # scored by all its jurors: for the operator
        self.decided: set[str] = set()
        self.published: set[str] = set()
        self.call_id = ""
        self.stopping = False
        self.failures: list[str] = []

    @property
    def url(self) -> dict[str, str]:
        return self.started.urls

    async def setup(self) -> None:
        """The operator's call, criteria and jury (not counted: before the clock starts)."""
        self.call_id = await pipeline.open_call(self.url["intake"])
        await awards_knows_call(self.http, self.url["awards"], self.call_id)
        awards = f"{self.url['awards']}/calls/{self.call_id}"
        _ok(await self.http.put(f"{awards}/criteria", headers=OPERATOR, json={"criteria": CRITERIA}))
        jury = {"jurors": JURORS, "jurors_per_case": JURORS_PER_CASE}
        _ok(await self.http.put(f"{awards}/jury", headers=OPERATOR, json=jury))
        self.requests.clear()

    async def _state(self, case_id: str) -> CaseState:
        """The case's state, once its submission's answer has come (review may see the case first)."""
        async with self.known:
            await asyncio.wait_for(self.known.wait_for(lambda: case_id in self.cases), timeout=120)
        return self.cases[case_id]

    async def submitter(self, plan: CasePlan, due: float, zero: float) -> None:
        headers, _ = _submitter(plan.submitter, self.tag)
        await asyncio.sleep(max(0.0, zero + due - time.perf_counter()))
        body = case_body(self.call_id, plan.n)
        # As a careful client does: a submission sent again (its answer lost) is answered with the case it made.
        keyed = {**headers, "Idempotency-Key": f"{self.tag}-case-{plan.n}"}
        case = _ok(await self.http.post(f"{self.url['intake']}/cases", headers=keyed, json=body), 200, 201)
        state = CaseState(plan, str(case["id"]), headers)
        async with self.known:
            self.cases[state.case_id] = state
            self.known.notify_all()
        if plan.fate != CHANGES:
            return
        await state.changes_requested.wait()
        intake = f"{self.url['intake']}/cases/{state.case_id}"

        async def revisable() -> bool:  # intake learns of the request from review's event, a moment later
            return bool(_ok(await self.http.get(intake, headers=headers))["status"] == "changes_requested")

        await eventually(revisable, timeout=120, interval=self.poll_s, what=f"case {state.case_id} revisable")
        points = _ok(await self.http.get(f"{intake}/feedback", headers=headers))
        revision = {"change_note": "Tested with residents.", "addresses": [p["point_id"] for p in points["items"]]}
        _ok(await self.http.post(f"{intake}/revisions", headers=headers, json=revision))

    async def reviewer(self, headers: dict[str, str]) -> None:
        while not self.stopping:
            response = await self.http.post(f"{self.url['review']}/tasks/claim", headers=headers)
            if response.status_code == 204:
                await asyncio.sleep(self.poll_s)
                continue
            task = _ok(response)
            state = await self._state(str(task["case_id"]))
            if state.plan.fate == REJECT:
                decision: dict[str, Any] = {"decision": "reject", "comment": "Out of the call's scope."}
            elif state.plan.fate == CHANGES and state.rounds == 0:
                decision = {
                    "decision": "request_changes",
                    "comment": "Show who tested it.",
                    "feedback": [
                        {"checklist_item": "users involved in shaping the concept", "met": False, "comment": "Who?"}
                    ],
                }
            else:
                decision = {"decision": "nominate", "comment": "Ready for the jury."}
            _ok(
                await self.http.post(
                    f"{self.url['review']}/tasks/{task['task_id']}/decision", headers=headers, json=decision
                )
            )
            state.rounds += 1
            if decision["decision"] == "request_changes":
                state.changes_requested.set()

    async def juror(self, juror: dict[str, str]) -> None:
        headers = auth("juror", user=juror["user_id"], org=juror["organisation_id"], email=juror["email"])
        scored: set[str] = set()
        while not self.stopping:
            offset, total, fresh = 0, 1, []
            while offset < total:
                page = _ok(
                    await self.http.get(
                        f"{self.url['awards']}/assignments",
                        headers=headers,
                        params={"status": "open", "limit": PAGE, "offset": offset},
                    )
                )
                total = page["total"]
                offset += PAGE
                fresh += [a for a in page["items"] if a["case"]["case_id"] not in scored]
            for assignment in fresh:
                case_id = str(assignment["case"]["case_id"])
                scores = [{"criterion": c["key"], "score": 4} for c in assignment["criteria"]]
                url = f"{self.url['awards']}/evaluations/{case_id}/scores"
                _ok(await self.http.put(url, headers=headers, json={"scores": scores}))
                scored.add(case_id)
                state = await self._state(case_id)
                state.scores += 1
                if state.scores == JURORS_PER_CASE:
                    self.ready.put_nowait(state)
            if not fresh:
                await asyncio.sleep(self.poll_s)

    async def operator(self) -> None:
        while True:
            state = await self.ready.get()
            body = {"outcome": state.plan.outcome, "feedback": f"The jury's view of case {state.plan.n}."}
            url = f"{self.url['awards']}/evaluations/{state.case_id}/decision"
            response = await self.http.post(url, headers=OPERATOR, json=body)
            if response.status_code == 409:  # not every score in yet as awards sees it: again shortly
                await asyncio.sleep(self.poll_s)
                self.ready.put_nowait(state)
                continue
            _ok(response)
            self.decided.add(state.case_id)

    async def publisher(self) -> None:
        while True:
            await asyncio.sleep(self.publish_every_s)
            await self.publish()

    async def publish(self) -> None:
        if not self.decided - self.published:
            return
        url = f"{self.url['awards']}/calls/{self.call_id}/results/publish"
        self.published.update(str(c) for c in _ok(await self.http.post(url, headers=OPERATOR))["published"])

    async def close(self) -> None:
        await self.http.aclose()


# --------------------------------------------------------------------------- measuring (the services' rows)


async def _terminal(conn: asyncpg.Connection, call_id: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM cases WHERE call_id = $1 AND status IN ('published', 'rejected')",
            uuid.UUID(call_id),
        )
    )


async def history(
    database: str, case_ids: list[str]
) -> tuple[dict[str, list[str]], dict[str, dict[str, float]], dict[str, str | None]]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT case_id::text, status, at FROM case_status_history WHERE case_id = ANY($1::uuid[]) ORDER BY id",
            case_ids,
        )
        outcomes = await conn.fetch("SELECT id::text, outcome FROM cases WHERE id = ANY($1::uuid[])", case_ids)
    finally:
        await conn.close()
    history: dict[str, list[str]] = {}
    first_at: dict[str, dict[str, float]] = {}
    for case_id, status, at in rows:
        history.setdefault(case_id, []).append(status)
        first_at.setdefault(case_id, {}).setdefault(status, at.timestamp())
    return history, first_at, {r[0]: r[1] for r in outcomes}


async def _deliveries(http: httpx.AsyncClient, notify: str) -> dict[str, int]:
    """notify's own totals of its deliveries by status (``GET /deliveries``)."""
    totals = {}
    for status in ("pending", "sending", "delivered", "failed"):
        page = _ok(await http.get(f"{notify}/deliveries", params={"status": status, "limit": 1}, headers=OPERATOR))
        totals[status] = int(page["total"])
    return totals


async def run(
    cases: int,
    rate: float,
    *,
    base_port: int = pipeline.DEFAULT_BASE_PORT,
    seed: int | None = None,
    publish_every_s: float = 1.0,
    poll_s: float = 0.2,
    within_s: float = 300.0,
    settle_s: float = 60.0,
    alongside: Callable[[pipeline.Started], Coroutine[Any, Any, Any]] | None = None,
    extra_env: dict[str, str] | None = None,
    second_instances: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """``cases`` cases at ``rate`` per second through the whole lifecycle; the figures and the facts.

    ``alongside``: a coroutine run while the cases flow, from when the services are up and the call is open until
    every case is done (cancelled then, if still running): a test's hostile input or fault. Its failure stops the
    run with its error.

    ``extra_env`` and ``second_instances`` go to ``pipeline.start`` (settings for every service; a second instance
    of some services, which the driver never talks to). The result's ``history`` is each case's statuses in order
    (intake's ``case_status_history``) and ``fate_of`` each case's planned fate, for a test's own checks."""
    rng = random.Random(seed)
    plans = plan_cases(cases, rng)
    schedule = poisson_schedule(rate, cases, rng)
    started = await pipeline.start(
        tuple(s.name for s in pipeline.SERVICES),
        base_port=base_port,
        extra_env=extra_env,
        second_instances=second_instances,
    )
    tag = uuid.uuid4().hex[:6]
    life = Lifecycle(started, tag=tag, publish_every_s=publish_every_s, poll_s=poll_s)
    assert started.mail is not None
    watch: asyncpg.Connection | None = None
    try:
        await life.setup()
        watch = await asyncpg.connect(started.databases["intake"])
        meter = CpuMeter({name: p.pid for name, p in started.processes.items()})
        mail_before = started.mail.count()
        meter.start()
        zero = time.perf_counter()
        actors = [
            asyncio.create_task(a)
            for a in (
                *(life.reviewer(r) for r in REVIEWERS),
                *(life.juror(j) for j in JURORS),
                life.operator(),
                life.publisher(),
            )
        ]
        side = asyncio.create_task(alongside(started)) if alongside is not None else None
        submissions = asyncio.gather(*(life.submitter(p, due, zero) for p, due in zip(plans, schedule, strict=True)))
        done = 0
        try:
            while time.perf_counter() - zero < within_s:
                await asyncio.sleep(0.5)
                watched: list[asyncio.Future[Any]] = [*actors, submissions, *([side] if side else [])]
                for task in watched:  # a player that failed stops the run with its error
                    error = task.exception() if task.done() else None
                    if error is not None:
                        raise error
                done = await _terminal(watch, life.call_id)
                if done >= cases:
                    break
            lifecycle_s = time.perf_counter() - zero
            # Every delivery made (notify's queue empty) before the CPU meter stops: mail is part of the work.
            deadline = time.perf_counter() + settle_s
            deliveries = await _deliveries(life.http, started.urls["notify"])
            while (deliveries["pending"] or deliveries["sending"]) and time.perf_counter() < deadline:
                await asyncio.sleep(0.5)
                deliveries = await _deliveries(life.http, started.urls["notify"])
            await asyncio.sleep(1.0)  # a straggler announced after the last look
            deliveries = await _deliveries(life.http, started.urls["notify"])
            cpu = meter.stop()
        finally:
            life.stopping = True
            for task in [*actors, *([side] if side else [])]:
                task.cancel()
            await asyncio.gather(*actors, return_exceptions=True)
            if side is not None:
                await asyncio.gather(side, return_exceptions=True)
            if not submissions.done():
                submissions.cancel()
            await asyncio.gather(submissions, return_exceptions=True)
        requests = dict(life.requests)
        requests.pop("notify", None)  # the driver's own look at deliveries, not the lifecycle's
        received = started.mail.received[mail_before:]
    finally:
        if watch is not None:
            await watch.close()
        await life.close()
        started.stop()

    by_id = {cid: s.plan for cid, s in life.cases.items()}
    history_of, first_at, outcomes = await history(started.databases["intake"], list(by_id))
    to_published = [t["published"] - t["submitted"] for t in first_at.values() if "published" in t]
    to_rejected = [t["rejected"] - t["submitted"] for t in first_at.values() if "rejected" in t]
    ends = [t.get("published", t.get("rejected")) for t in first_at.values()]
    starts = [t["submitted"] for t in first_at.values() if "submitted" in t]
    finished = [e for e in ends if e is not None]
    span = (max(finished) - min(starts)) if finished and starts else float("nan")
    completed = len(finished)
    expected = expected_by_submitter(by_id.values())
    heard: dict[int, Counter[str]] = {}
    heard_once_each: dict[int, Counter[str]] = {}  # a delivery received again (notify resent it) counted once
    for i in expected:
        _, email = _submitter(i, tag)
        theirs = [r for r in received if email in r.to and r.case_id in by_id]
        heard[i] = Counter(r.template for r in theirs)
        heard_once_each[i] = Counter(r.template for r in {r.delivery_id: r for r in theirs}.values())
    facts = facts_of(by_id, history_of, outcomes)
    facts["submitters_heard_as_expected"] = heard == expected
    facts["submitters_heard_each_delivery_as_expected"] = heard_once_each == expected
    return {
        "cases": cases,
        "rate": rate,
        "fates": dict(Counter(p.fate for p in plans)),
        "completed": completed,
        "lifecycle_seconds": round(lifecycle_s, 3),
        "completed_per_s": round(completed / span, 3) if span and span > 0 else None,
        "latency_ms": {"to_published": latency_summary(to_published), "to_rejected": latency_summary(to_rejected)},
        "requests": requests,
        "requests_per_s": rates_per_service(requests, lifecycle_s),
        "cpu_s": cpu,
        "cpu_ms_per_completed_case": per_case_ms(cpu["total"], completed),
        "deliveries": {
            "notify": deliveries,
            "smtp_received": len(received),
            "by_template": dict(Counter(r.template for r in received)),
            "per_completed_case": round(len(received) / completed, 2) if completed else None,
            "repeated": repeated(r for r in received if r.case_id in by_id),
        },
        "submitters": {str(i): {"expected": dict(expected[i]), "heard": dict(heard[i])} for i in sorted(expected)},
        "facts": facts,
        "history": history_of,
        "fate_of": {case_id: plan.fate for case_id, plan in by_id.items()},
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }

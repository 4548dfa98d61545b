"""The operator dashboard every service shares: ``GET /ops`` (operator role), server-rendered, live by polling.

What it shows comes from what the service already knows (shared/operations.py's status and dead letters, the
readiness checks and the service's own dependency checks): events handled, events consumed and published per second
and per minute over the last hour (a chart), outbox backlog, consumer lag per topic partition, dependency health, the
dead letters waiting with Replay, Replay all and Discard forms, and every operator action on them. ``GET /ops/live``
renders the figures alone; a few lines of plain JavaScript on the page fetch it every few seconds and swap it in
(without JavaScript the page is simply not live). See docs/pages.md, "The operator dashboard".
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shared import operations, registry
from shared.db import DATABASE_ERRORS
from shared.errors import Conflict, NotFound
from shared.events import EVENT_TYPES
from shared.glance import DashboardHook, Glance
from shared.http import get_runtime
from shared.lag import PartitionLag
from shared.metrics import HandlerHealth, handler_health
from shared.operations import ContributedChecks
from shared.repository import FlowCount, FlowMinute, HandledEvent, ReliabilityRepository
from shared.vocabulary import Role
from shared.web.chart import FlowChart, flow_chart
from shared.web.pages import Page, checked_form, page_for, page_router, public_urls

# How many dead letters and actions the page lists (the API pages through all of them).
LISTED = 50
# A payload is shown only as far as a person reads it at a glance.
PAYLOAD_EXCERPT = 300
# How many of the latest handled events the page lists.
LATEST_EVENTS = 15
REASON_MAX = 2000
# The chart's span, in minutes, and the window of the "now" rate, in seconds.
CHART_MINUTES = 60
RATE_WINDOW_S = 60
# A minute this long past can no longer gain rows (a row carries its transaction's start time, and the consumer's and
# the relay's transactions are short), so the process asks the database for it once and keeps it.
SETTLED_S = 300

operator_page = page_for(Role.OPERATOR)


@dataclass(frozen=True)
class Figures:
    events_handled: int
    outbox_pending: int
    outbox_oldest_age_s: float
    dead_letters_waiting: int
    partition_lag: list[PartitionLag]
    dependencies: dict[str, dict[str, Any]]
    handlers: HandlerHealth
    latest: list[dict[str, Any]]
    # events per second over the last RATE_WINDOW_S, and the chart of the last hour; None when the database is down
    rate: FlowCount | None = None
    chart: FlowChart | None = None

    @property
    def consumed_per_s(self) -> float | None:
        return None if self.rate is None else self.rate.consumed / RATE_WINDOW_S

    @property
    def published_per_s(self) -> float | None:
        return None if self.rate is None else self.rate.published / RATE_WINDOW_S


class FlowHistory:
    """The chart's minutes for one process: a minute past ``SETTLED_S`` is asked for once and kept, so each poll
    reads only the last few minutes' rows from the database, which stays the source of truth."""

    def __init__(self) -> None:
        self._settled: dict[datetime, FlowMinute] = {}

    async def last_hour(self, repo: ReliabilityRepository, now: datetime) -> list[FlowMinute]:
        current = now.replace(second=0, microsecond=0)
        first = current - timedelta(minutes=CHART_MINUTES - 1)
        settled_before = (now - timedelta(seconds=SETTLED_S)).replace(second=0, microsecond=0)
        for minute in [m for m in self._settled if m < first]:
            del self._settled[minute]
        ask_from = first
        while ask_from in self._settled:
            ask_from += timedelta(minutes=1)
        fresh = await repo.flow_per_minute(since=ask_from, until=now)
        for m in fresh:
            if m.minute < settled_before:
                self._settled[m.minute] = m
        kept = [self._settled[m] for m in sorted(self._settled) if m < ask_from]
        return kept + fresh


def _flow_history(request: Request) -> FlowHistory:
    history: FlowHistory | None = getattr(request.app.state, "flow_history", None)
    if history is None:
        history = request.app.state.flow_history = FlowHistory()
    return history


def _latest(events: list[HandledEvent]) -> list[dict[str, Any]]:
    """Each event with a link to what it is about: a case to intake's API ``GET /cases/{id}`` (intake has no
    operator case page; it answers an operator with the case and its timeline), a call to intake's call page."""
    intake = public_urls()["intake"]
    rows = []
    for e in events:
        rows.append({"event": e, "case_url": _subject_url(intake, e)})
    return rows


def _subject_url(intake: str, event: HandledEvent) -> str | None:
    payload = EVENT_TYPES.get(event.event_type)
    if payload is None or event.subject is None:
        return None
    try:
        subject = uuid.UUID(event.subject)
    except ValueError:
        return None
    match payload.subject_kind:
        case "case":
            return f"{intake}/cases/{subject}"
        case "call":
            return f"{intake}/operator/calls/{subject}"
        case "service":
            return None


async def _figures(request: Request) -> Figures:
    runtime = get_runtime(request)
    checks = await operations.dependency_checks(runtime, request.app.state.broker)
    contributed: ContributedChecks | None = getattr(request.app.state, "dependency_checks", None)
    if contributed is not None:
        checks |= await contributed.results(runtime)
    partitions = list(runtime.partition_lag)
    # The consumer is named for its service; these are this process's own metrics.
    handlers = handler_health(runtime.service)
    try:
        repo = ReliabilityRepository(runtime.db())
        backlog = await repo.backlog()
        now = datetime.now(UTC)
        return Figures(
            events_handled=await repo.count_handled(),
            outbox_pending=backlog.pending,
            outbox_oldest_age_s=round(backlog.oldest_age_s, 1),
            dead_letters_waiting=await repo.count_pending_dead_letters(),
            partition_lag=partitions,
            dependencies=checks,
            handlers=handlers,
            latest=_latest(await repo.latest_handled(limit=LATEST_EVENTS)),
            rate=await repo.flow_since(now - timedelta(seconds=RATE_WINDOW_S)),
            chart=flow_chart(await _flow_history(request).last_hour(repo, now)),
        )
    except DATABASE_ERRORS:
        # The dependency table says what is wrong; the database's figures are unknown ("–"), not zero.
        return Figures(-1, -1, -1.0, -1, partitions, checks, handlers, [])


@dataclass(frozen=True)
class ReplayAllOutcome:
    """What the last "Replay all" did, carried by its redirect's query (``/ops?replayed=…``)."""

    replayed: int
    failed: int
    skipped: int
    remaining: int
    last: int  # the last dead letter it reached (0: none)

    @classmethod
    def of(cls, done: operations.ReplayedAll) -> ReplayAllOutcome:
        return cls(done.replayed, done.failed, done.skipped, done.remaining, done.last_id or 0)

    def query(self) -> str:
        return urlencode(asdict(self))

    @classmethod
    def parse(cls, request: Request) -> ReplayAllOutcome | None:
        values = [request.query_params.get(f.name, "") for f in fields(cls)]
        if not all(v.isdigit() and len(v) < 19 for v in values):
            return None
        return cls(*(int(v) for v in values))


def _excerpt(payload: bytes) -> str:
    text = payload.decode("utf-8", errors="replace")
    return text if len(text) <= PAYLOAD_EXCERPT else text[:PAYLOAD_EXCERPT] + "…"


async def _render_dashboard(
    page: Page, *, status_code: int = 200, notice_id: int | None = None, error: dict[str, Any] | None = None
) -> Response:
    request = page.request
    runtime = get_runtime(request)
    repo = ReliabilityRepository(runtime.db())
    try:
        letters = await repo.list_dead_letters(include_replayed=False, limit=LISTED, offset=0)
        actions = await repo.dead_letter_actions(limit=LISTED)
        notice = await repo.dead_letter_action(notice_id) if notice_id is not None else None
    except DATABASE_ERRORS:
        # Without its database the page still shows what it can (Kafka, lag) and that the database is down.
        letters, actions, notice = [], [], None
    outcome = ReplayAllOutcome.parse(request)
    urls = public_urls()
    others = [
        {"name": p.name, "title": page.t(f"service.{p.name}"), "url": f"{urls[p.name]}/ops"}
        for p in registry.PARTS
        if p != page.part
    ]
    return page.render(
        "ops.html.j2",
        status_code=status_code,
        figures=await _figures(request),
        letters=[{"letter": d, "payload": _excerpt(d.payload)} for d in letters],
        actions=actions,
        notice=notice,
        error=error or {},
        others=others,
        glances=await _glances(request),
        replayed_all=outcome,
        replay_all_max=operations.REPLAY_ALL_MAX,
        # After an outcome with more remaining, the form continues after the last dead letter it reached.
        continue_after=outcome.last if outcome is not None and outcome.remaining > 0 else 0,
    )


async def _glances(request: Request) -> list[Glance]:
    hook: DashboardHook | None = getattr(request.app.state, "dashboard", None)
    if hook is None:
        return []
    try:
        return list(await hook(get_runtime(request)))
    except DATABASE_ERRORS:
        # The dependency table says the database is down; the domain section is then simply absent.
        return []


def _notice_id(request: Request) -> int | None:
    value = request.query_params.get("done", "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _dead_letter_id(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) < 2**63 else None


def ops_pages_router() -> APIRouter:
    router = page_router()

    @router.get("/ops", response_class=HTMLResponse)
    async def dashboard(request: Request, page: Page = Depends(operator_page)) -> Response:
        return await _render_dashboard(page, notice_id=_notice_id(request))

    @router.get("/ops/live", response_class=HTMLResponse)
    async def live(request: Request, page: Page = Depends(operator_page)) -> Response:
        """The figures alone (with the domain at a glance), for the dashboard's script to swap in."""
        return page.render("ops_figures.html.j2", figures=await _figures(request), glances=await _glances(request))

    @router.post("/ops/dashboard/dead-letters/{dead_letter_id}/replay", response_class=HTMLResponse)
    async def replay(request: Request, dead_letter_id: str, page: Page = Depends(operator_page)) -> Response:
        await checked_form(request, page)
        return await _act(page, dead_letter_id, reason=None)

    @router.post("/ops/dashboard/dead-letters/replay-all", response_class=HTMLResponse)
    async def replay_all(request: Request, page: Page = Depends(operator_page)) -> Response:
        form = await checked_form(request, page)
        if form.get("confirm") != "yes":
            return await _render_dashboard(page, status_code=422, error={"id": "all", "key": "replay_all_confirm"})
        assert page.principal is not None
        after = _dead_letter_id(form.get("after", "")) or 0
        try:
            done = await operations.replay_all(get_runtime(request), actor=page.principal.user_id, after=after)
        except NotFound:
            return await _render_dashboard(page, status_code=404, error={"id": "all", "key": "replay_all_nothing"})
        # Post/redirect/get, as for one dead letter: each replay is in the action log, the counts in the address.
        outcome = ReplayAllOutcome.of(done).query()
        return page.keep_cookies(RedirectResponse(f"/ops?{outcome}#replay-all-outcome", status_code=303))

    @router.post("/ops/dashboard/dead-letters/{dead_letter_id}/discard", response_class=HTMLResponse)
    async def discard(request: Request, dead_letter_id: str, page: Page = Depends(operator_page)) -> Response:
        form = await checked_form(request, page)
        reason = form.get("reason", "").strip().replace("\x00", "")
        if not reason or len(reason) > REASON_MAX:
            problem = "reason_required" if not reason else "reason_too_long"
            return await _render_dashboard(page, status_code=422, error={"id": dead_letter_id, "key": problem})
        return await _act(page, dead_letter_id, reason=reason)

    return router


async def _act(page: Page, raw_id: str, *, reason: str | None) -> Response:
    """Replay (no reason) or discard a dead letter; back to the dashboard showing the recorded outcome."""
    assert page.principal is not None
    dead_letter_id = _dead_letter_id(raw_id)
    runtime = get_runtime(page.request)
    try:
        if dead_letter_id is None:
            raise NotFound(raw_id)
        if reason is None:
            action = await operations.replay(runtime, dead_letter_id, actor=page.principal.user_id)
        else:
            action = await operations.discard(runtime, dead_letter_id, actor=page.principal.user_id, reason=reason)
    except NotFound:
        return await _render_dashboard(page, status_code=404, error={"id": raw_id, "key": "dead_letter_unknown"})
    except Conflict:
        return await _render_dashboard(page, status_code=409, error={"id": raw_id, "key": "dead_letter_not_waiting"})
    # Post/redirect/get: reloading the page does not act twice.
    return page.keep_cookies(RedirectResponse(f"/ops?done={action.id}#notice", status_code=303))

"""The floors do Kipinä's work: their statements are the repositories' (checked against what the repositories send,
so a change there shows here), and their pure steps say what intake and review would."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from bench import floor_events, floor_http
from bench.floors import ratio_rows
from services.intake.domain import CaseProgress, CaseStatus, TimelineEntry, TimelineKind, submitted_entry
from services.intake.repository import IntakeRepository
from services.review.domain import ReviewStatus
from services.review.repository import ReviewRepository
from shared.events import CaseSnapshot
from shared.repository import ReliabilityRepository
from shared.vocabulary import IsoStage


def _sql(text: str) -> str:
    return " ".join(text.split())


class Recording:
    """A connection that remembers each statement and answers with a canned row."""

    def __init__(self, row: dict[str, Any] | None = None) -> None:
        self.row = row
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        self.calls.append((_sql(sql), args))
        return "INSERT 0 1"

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        self.calls.append((_sql(sql), args))
        return self.row

    async def executemany(self, sql: str, args: list[tuple[Any, ...]]) -> None:
        self.calls.append((_sql(sql), tuple(args)))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


def _case() -> dict[str, Any]:
    return floor_events.submitted_envelopes(uuid.uuid4(), 1, run="t")[0]["data"]["case"]


async def test_review_rows_are_reviews_own() -> None:
    case = _case()
    conn = Recording()
    repo = ReviewRepository(conn)  # type: ignore[arg-type]
    await repo.insert_case(snapshot=CaseSnapshot.model_validate(case), status=ReviewStatus.IN_REVIEW)
    sql, args = conn.calls[0]
    assert sql == _sql(floor_events.REVIEW_INSERT_CASE)
    ours = floor_events._review_case_row(case)
    assert ours[:13] + ours[14:] == args[:13] + args[14:]
    assert json.loads(ours[13]) == args[13]  # the details, which Kipinä's pool encodes as JSON


async def test_review_opens_the_iteration_and_its_task_with_the_same_statements() -> None:
    due = datetime.now(UTC) + timedelta(hours=72)
    case_id = uuid.uuid4()
    conn = Recording(
        {
            "case_id": case_id,
            "iteration": 1,
            "stage": "concept",
            "revision": 1,
            "status": "open",
            "outcome": None,
            "opened_at": datetime.now(UTC),
            "due_at": due,
            "escalated_at": None,
            "closed_at": None,
        }
    )
    repo = ReviewRepository(conn)  # type: ignore[arg-type]
    await repo.open_iteration(
        case_id=case_id, stage=IsoStage.CONCEPT, revision=1, reviewers=1, timebox=floor_events.TIMEBOX
    )
    (iteration_sql, iteration_args), (task_sql, task_args) = conn.calls
    assert iteration_sql == _sql(floor_events.OPEN_ITERATION)
    assert iteration_args == (case_id, "concept", 1, "open", floor_events.TIMEBOX)
    assert task_sql == _sql(floor_events.INSERT_TASK)
    assert [row[1:] for row in task_args] == [(case_id, 1, 1, "queued", due)]


async def test_inbox_outbox_and_relay_statements_are_the_reliability_repositorys() -> None:
    conn = Recording()
    repo = ReliabilityRepository(conn)  # type: ignore[arg-type]
    await repo.claim_inbox(consumer="review", event_id=uuid.uuid4(), event_type="t", subject="s", correlation_id="c")
    await repo.enqueue(
        event_id=uuid.uuid4(),
        event_type="t",
        topic="x",
        message_key="k",
        payload=b"{}",
        traceparent=None,
        tracestate=None,
    )
    await repo.mark_published([1, 2])
    assert [sql for sql, _ in conn.calls] == [
        _sql(floor_events.INBOX_CLAIM),
        _sql(floor_events.OUTBOX_INSERT),
        _sql(floor_events.MARK_PUBLISHED),
    ]


async def test_intake_tracks_the_iteration_with_the_same_statements() -> None:
    case = _case()
    now = datetime.now(UTC)
    stored = {"status": "in_review", "stage": "concept", "iteration": 1, "outcome": None, "feedback": None}
    conn = Recording(stored)
    repo = IntakeRepository(conn)  # type: ignore[arg-type]
    case_id = uuid.UUID(case["case_id"])
    await repo.get_progress(case_id, for_update=True)
    await repo.store_progress(
        case_id=case_id, progress=CaseProgress(CaseStatus.IN_REVIEW, IsoStage.CONCEPT, iteration=1), at=now
    )
    await repo.add_timeline_entry(
        case_id=case_id, entry=TimelineEntry(TimelineKind.ITERATION_OPENED, "s", 1, {}), at=now, event_id=uuid.uuid4()
    )
    assert [sql for sql, _ in conn.calls] == [
        _sql(floor_events.SELECT_PROGRESS.replace("SELECT id, ", "SELECT ")),  # the floor adds the id to match a batch
        _sql(floor_events.STORE_PROGRESS),
        _sql(floor_events.ADD_TIMELINE),
    ]
    # What the floor writes for a case moving forward is what intake sends: the same values, in the same places.
    _, store_args = conn.calls[1]
    assert store_args == (case_id, "in_review", "concept", 1, None, None, now)


async def test_the_http_floor_inserts_the_case_as_intake_does() -> None:
    """One statement: the case, its first status and its first timeline entry (intake's INSERT_CASE)."""
    case = _case()
    now = datetime.now(UTC)
    conn = Recording({"created_at": now, "updated_at": now})
    repo = IntakeRepository(conn)  # type: ignore[arg-type]
    await repo.insert_case(
        snapshot=CaseSnapshot.model_validate(case),
        title_key="k",
        progress=CaseProgress(CaseStatus.SUBMITTED, IsoStage.CONCEPT),
        entry=submitted_entry(call_title=case["call_title"]),
        idempotency_key=None,
        request_fingerprint="f",
    )
    ((insert, args),) = conn.calls
    assert _sql(floor_http.INSERT_CASE) == insert
    # The timeline entry's values, as the floor sends them (it binds the details as JSON text).
    assert args[12:15] == ("submitted", f"Submitted to {case['call_title']!r}", None)
    assert args[15] == {"revision": 1}


def test_a_case_moves_to_in_review_once_and_gets_its_timeline_entry() -> None:
    event = {
        "id": str(uuid.uuid4()),
        "time": "2026-11-24T20:21:02.241820Z",
        "data": {"case_id": "c1", "iteration": 1, "revision": 1, "stage": "concept", "due_at": "2026-11-27T20:21:02Z"},
    }
    submitted = {"status": "submitted", "stage": "concept", "iteration": 0, "outcome": None, "feedback": None}
    updates, timeline = floor_events._progress_rows([event], {"c1": submitted})  # type: ignore[dict-item]
    assert [u[:6] for u in updates] == [("c1", "in_review", "concept", 1, None, None)]
    assert timeline[0][2:5] == ("iteration_opened", "Review iteration 1 opened at the concept stage (revision 1)", 1)
    # The same event again finds the case in review already: no new status, the timeline entry (ignored by its
    # event id in the database) again.
    in_review = submitted | {"status": "in_review", "iteration": 1}
    updates, timeline = floor_events._progress_rows([event], {"c1": in_review})  # type: ignore[dict-item]
    assert (updates, len(timeline)) == ([], 1)
    # A case this intake does not know: nothing.
    assert floor_events._progress_rows([event], {}) == ([], [])


def test_an_event_twice_in_one_batch_is_handled_once() -> None:
    events = [{"id": "a"}, {"id": "b"}, {"id": "a"}]
    assert floor_events._fresh(events, {"a"}) == [{"id": "a"}]


def test_hop_latencies_come_from_the_events_times_and_the_commits() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    review = [("c1", floor_events.iso(t0), t0.timestamp() + 0.010)]
    intake = [("c1", floor_events.iso(t0 + timedelta(milliseconds=12)), t0.timestamp() + 0.020)]
    latencies = floor_events.hop_latencies(review, intake)
    assert latencies["hop1"]["p50"] == 10.0
    assert latencies["hop2"]["p50"] == 8.0
    assert latencies["end_to_end"]["p50"] == 20.0


def test_the_floor_producer_has_the_relays_settings() -> None:
    with mock.patch("shared.kafka.AIOKafkaProducer") as producer:
        from shared.kafka import EventProducer

        EventProducer("127.0.0.1:1", service="review")
    assert floor_events.PRODUCER_SETTINGS.items() <= producer.call_args.kwargs.items()


def test_ratio_rows_set_kipina_beside_its_floors() -> None:
    batched = {"cases_per_s": 2000.0, "cpu_ms_per_case": 0.5}
    single = {"cases_per_s": 250.0, "cpu_ms_per_case": 5.0}
    http = {"requests_per_s": 500.0, "cpu_ms_per_request": 2.0, "latency_ms": {"p99": 50.0}}
    kipina = {
        "cases_per_s": 40.0,
        "in_review": 100,
        "submission": {"requests_per_s": 100.0, "latency_ms": {"p99": 300.0}},
        "cpu_ms_per_case": 50.0,
        "cpu_s": {"intake": 1.0, "review": 0.5, "awards": 1.0, "notify": 1.0, "kafka": 0.5, "postgres": 1.0},
    }
    alone = {"requests_per_s": 200.0, "cpu_ms_per_request": 4.0, "latency_ms": {"p99": 100.0}}
    rows = {r.figure: r for r in ratio_rows(batched, single, http, kipina, alone)}
    assert rows["cases/s, HTTP → in review, vs event floor (batched)"].floor == 2000.0
    assert rows["POST /cases req/s, intake alone, vs HTTP floor"].kipina == 200.0
    assert rows["POST /cases req/s in the pipeline (the other services busy) vs HTTP floor"].kipina == 100.0
    assert rows["CPU per case, every process, vs HTTP + event floor (batched)"].floor == 2.5
    assert rows["CPU per case, intake + review + Kafka + PostgreSQL, vs the same"].kipina == 30.0

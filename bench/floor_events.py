"""The event floor: Kipinä's two hops intake → review → intake, hand-written on bare aiokafka and asyncpg.

    .venv/bin/python -m bench.floor_events --cases 2000 --mode batched
    .venv/bin/python -m bench.floor_events --cases 300 --mode single
    .venv/bin/python -m bench.floor_events --cases 2000 --mode batched --rate 500   # open-loop Poisson arrivals

What the machine can do when it does the same reliable work as Kipinä without the framework, so that every figure
of Kipinä can be read as a ratio to it (docs/PERFORMANCE.md). Nothing of Kipinä runs on the hot path; its
schemas, migrations and constants are only read, and the envelopes of the submitted cases are made with its
contracts before the clock starts.

* The topics are the floor's own (``bench.floor.intake.v1``, ``bench.floor.review.v1``) with the real topics'
  partition count and replication, so no real consumer ever sees them; the producers have shared/kafka.py's
  settings (idempotent, ``acks=all``, ``linger_ms=5``).
* The databases are the floor's own (``bench_floor_review``, ``bench_floor_intake``), made by the services' own
  migrations: the same tables and indexes. Only the outbox's NOTIFY trigger is dropped (``--notify-trigger``
  keeps it): the floor's relay is woken in its own process, not by PostgreSQL.
* Hop 1, a "review" process: per submitted event the inbox claim, review's rows (the case, its first iteration,
  its review task: copies of services/review/repository.py's statements) and the IterationOpenedV1 outbox row,
  in one transaction; the offsets are committed after it. Its relay then publishes the committed outbox rows
  and marks them published (the reliable protocol: committed → published → marked), in batches of whatever has
  piled up while the previous batch was being acknowledged.
* Hop 2, an "intake" process: per IterationOpenedV1 the inbox claim, the case row locked, its status saved,
  the status history and the timeline entry (copies of services/intake/repository.py's statements), in one
  transaction; the offsets after it.
* ``--mode batched`` takes what ``getmany`` returns (up to ``--max-records``) in one transaction, each statement
  sent for the whole batch at once (asyncpg's ``executemany``/``fetchmany`` pipeline), and commits the offsets
  once; no savepoint per event (the minimum reliable work). ``--mode single`` does one message, one transaction,
  one offset commit, as Kipinä does today.

Reports cases/s through both hops, CPU-seconds of the two floor processes, the broker and PostgreSQL (from
/proc, while the cases flow), and latencies from the timestamps the events carry: hop 1 (submitted event's time →
review committed), hop 2 (IterationOpenedV1's time → intake committed) and end to end. With pre-produced cases
(the default) every case waits from the start, so the latencies are those of a queue being drained; give
``--rate`` for the latencies of an open-loop load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from bench.measure import CpuMeter, latency_summary, per_case_ms, report
from services.intake import repository as intake_repository

REPO = Path(__file__).resolve().parents[1]
IN_TOPIC = "bench.floor.intake.v1"  # where the submitted cases arrive, as on kipina.intake.v1
OUT_TOPIC = "bench.floor.review.v1"  # where hop 1 publishes, as on kipina.review.v1
REVIEW_DATABASE = "bench_floor_review"
INTAKE_DATABASE = "bench_floor_intake"
SUBMITTED = "kipina.case.submitted.v1"
ITERATION_OPENED = "kipina.review.iteration_opened.v1"
CONTENT_TYPE_HEADERS = [("content-type", b"application/cloudevents+json")]
# shared/kafka.py's EventProducer: the relay's producer.
PRODUCER_SETTINGS: dict[str, Any] = {
    "enable_idempotence": True,
    "acks": "all",
    "linger_ms": 5,
    "request_timeout_ms": 15_000,
}
# Review's default iteration timebox (services/review/settings.py).
TIMEBOX = timedelta(hours=72)

# --------------------------------------------------------------------------- the statements (copies)

# shared/repository.py claim_inbox; RETURNING tells a batch which events were new (one statement tells one by its
# status).
INBOX_CLAIM = """
    INSERT INTO inbox (consumer, event_id, event_type, subject, correlation_id) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (consumer, event_id) DO NOTHING
"""
OUTBOX_INSERT = """
    INSERT INTO outbox (event_id, event_type, topic, message_key, payload, traceparent, tracestate)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
# The relay of the floor publishes from memory, so it needs the rows' ids.
OUTBOX_INSERT_RETURNING_ID = OUTBOX_INSERT + " RETURNING id"
MARK_PUBLISHED = "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])"
CLAIM_UNPUBLISHED = """
    SELECT id, topic, message_key, payload FROM outbox
    WHERE published_at IS NULL
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""

# services/review/repository.py insert_case, open_iteration
REVIEW_INSERT_CASE = """
    INSERT INTO cases (case_id, call_id, call_title, title, summary, category, language, organisation_id,
                       organisation_name, submitter_id, stage, revision, reviewers_per_iteration, details, status)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (case_id) DO NOTHING
"""
OPEN_ITERATION = """
    WITH numbered AS (
        UPDATE cases SET current_iteration = current_iteration + 1, updated_at = now()
        WHERE case_id = $1 RETURNING current_iteration
    )
    INSERT INTO iterations (case_id, iteration, stage, revision, status, due_at)
    SELECT $1, current_iteration, $2, $3, $4, now() + $5::interval FROM numbered
    RETURNING case_id, iteration, stage, revision, status, outcome, opened_at, due_at, escalated_at, closed_at
"""
INSERT_TASK = """
    INSERT INTO review_tasks (task_id, case_id, iteration, slot, status, due_at)
    VALUES ($1, $2, $3, $4, $5, $6)
"""

# services/intake/repository.py get_progress (with the id, to match a batch's rows to its events), store_progress
# (the very statement), add_timeline_entry
SELECT_PROGRESS = "SELECT id, status, stage, iteration, outcome, feedback FROM cases WHERE id = $1 FOR UPDATE"
STORE_PROGRESS = intake_repository.STORE_PROGRESS
ADD_TIMELINE = """
    INSERT INTO case_timeline (case_id, at, kind, summary, iteration, details, event_id)
    VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7)
    ON CONFLICT (event_id) DO NOTHING
"""
# Intake's statuses a review iteration may move a case from (services/intake/domain.py _move: never backwards).
_BEFORE_REVIEW = frozenset({"submitted", "in_review", "changes_requested", "revised"})


def iso(moment: datetime) -> str:
    """A time as pydantic writes it in Kipinä's envelopes."""
    return moment.isoformat().replace("+00:00", "Z")


def _now_iso() -> str:
    return iso(datetime.now(UTC))


# --------------------------------------------------------------------------- hop 1: review


@dataclass(frozen=True)
class Outgoing:
    """A committed outbox row, handed to the relay."""

    outbox_id: int
    key: bytes
    value: bytes


def _review_case_row(case: dict[str, Any]) -> tuple[Any, ...]:
    """review's cases row from the snapshot (services/review/repository.py insert_case and _details_json)."""
    organisation = case["organisation"]
    details = {
        "problem": case["problem"],
        "solution": case["solution"],
        "oecd_principles": case["oecd_principles"],
        "drivers": case["drivers"],
        "obstacles": case["obstacles"],
        "team_size": len(case["team"]),
        "partner_count": len(case["partners"]),
    }
    return (
        case["case_id"],
        case["call_id"],
        case["call_title"],
        case["title"],
        case["summary"],
        case["category"],
        case["language"],
        organisation["id"],
        organisation["name"],
        case["submitter_id"],
        case["iso_stage"],
        case["revision"],
        case["reviewers_per_iteration"],
        json.dumps(details),
        "in_review",
    )


def _iteration_opened(cause: dict[str, Any], iteration: asyncpg.Record, call_id: str) -> tuple[str, bytes]:
    """The IterationOpenedV1 envelope caused by a submission: its id and its bytes, as Kipinä's look."""
    event_id = str(uuid.uuid4())
    case_id = cause["subject"]
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/kipina/review",
        "type": ITERATION_OPENED,
        "subject": case_id,
        "time": _now_iso(),
        "datacontenttype": "application/json",
        "dataschema": f"urn:kipina:schema:{ITERATION_OPENED}",
        "correlationid": cause["correlationid"],
        "causationid": cause["id"],
    }
    if cause.get("traceparent"):
        envelope["traceparent"] = cause["traceparent"]
    envelope["data"] = {
        "case_id": case_id,
        "call_id": call_id,
        "iteration": iteration["iteration"],
        "revision": iteration["revision"],
        "stage": iteration["stage"],
        "due_at": iso(iteration["due_at"]),
    }
    return event_id, json.dumps(envelope, separators=(",", ":")).encode()


def _fresh(events: list[dict[str, Any]], claimed_ids: set[str]) -> list[dict[str, Any]]:
    """The events the inbox claimed now (once each, even if one came twice in the batch)."""
    fresh = []
    for event in events:
        if event["id"] in claimed_ids:
            claimed_ids.discard(event["id"])
            fresh.append(event)
    return fresh


async def review_batch(conn: asyncpg.Connection, events: list[dict[str, Any]]) -> list[Outgoing]:
    """Hop 1 for a batch, in the caller's transaction: inbox, cases, iterations, tasks, outbox; statement by
    statement for the whole batch. Returns the outbox rows to relay once the transaction has committed."""
    claims = [("review", e["id"], e["type"], e["subject"], e["correlationid"]) for e in events]
    claimed = await conn.fetchmany(INBOX_CLAIM + " RETURNING event_id", claims)
    fresh = _fresh(events, {str(r[0]) for r in claimed})
    if not fresh:
        return []
    cases = [e["data"]["case"] for e in fresh]
    inserted_rows = await conn.fetchmany(
        REVIEW_INSERT_CASE + " RETURNING case_id", [_review_case_row(c) for c in cases]
    )
    inserted = {str(r[0]) for r in inserted_rows}
    new = [(e, c) for e, c in zip(fresh, cases, strict=True) if c["case_id"] in inserted]
    if not new:
        return []
    iterations = await conn.fetchmany(
        OPEN_ITERATION, [(c["case_id"], c["iso_stage"], c["revision"], "open", TIMEBOX) for _, c in new]
    )
    assert len(iterations) == len(new), "every new case has its first iteration"
    tasks = [
        (uuid.uuid4(), c["case_id"], it["iteration"], slot, "queued", it["due_at"])
        for (_, c), it in zip(new, iterations, strict=True)
        for slot in range(1, c["reviewers_per_iteration"] + 1)
    ]
    await conn.executemany(INSERT_TASK, tasks)
    envelopes = [_iteration_opened(e, it, c["call_id"]) for (e, c), it in zip(new, iterations, strict=True)]
    rows = [
        (event_id, ITERATION_OPENED, OUT_TOPIC, c["case_id"], payload, e.get("traceparent"), None)
        for (e, c), (event_id, payload) in zip(new, envelopes, strict=True)
    ]
    ids = await conn.fetchmany(OUTBOX_INSERT_RETURNING_ID, rows)
    return [
        Outgoing(r["id"], c["case_id"].encode(), payload)
        for r, (_, c), (_, payload) in zip(ids, new, envelopes, strict=True)
    ]


async def review_one(conn: asyncpg.Connection, event: dict[str, Any]) -> list[Outgoing]:
    """Hop 1 for one event, in the caller's transaction, statement after statement as Kipinä does."""
    status = await conn.execute(
        INBOX_CLAIM, "review", event["id"], event["type"], event["subject"], event["correlationid"]
    )
    if not status.endswith(" 1"):
        return []
    case = event["data"]["case"]
    if not (await conn.execute(REVIEW_INSERT_CASE, *_review_case_row(case))).endswith(" 1"):
        return []
    iteration = await conn.fetchrow(
        OPEN_ITERATION, case["case_id"], case["iso_stage"], case["revision"], "open", TIMEBOX
    )
    assert iteration is not None
    await conn.executemany(
        INSERT_TASK,
        [
            (uuid.uuid4(), case["case_id"], iteration["iteration"], slot, "queued", iteration["due_at"])
            for slot in range(1, case["reviewers_per_iteration"] + 1)
        ],
    )
    event_id, payload = _iteration_opened(event, iteration, case["call_id"])
    outbox_id = await conn.fetchval(
        OUTBOX_INSERT_RETURNING_ID,
        event_id,
        ITERATION_OPENED,
        OUT_TOPIC,
        case["case_id"],
        payload,
        event.get("traceparent"),
        None,
    )
    return [Outgoing(outbox_id, case["case_id"].encode(), payload)]


class Relay:
    """Publishes committed outbox rows and marks them published: whatever piled up while the previous batch was
    being acknowledged goes in the next, in commit order (so each case's events keep their order)."""

    def __init__(self, conn: asyncpg.Connection, producer: AIOKafkaProducer, topic: str) -> None:
        self._conn = conn
        self._producer = producer
        self._topic = topic
        self._queue: asyncio.Queue[list[Outgoing] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="floor-relay")

    def hand(self, rows: list[Outgoing]) -> None:
        if rows:
            self._queue.put_nowait(rows)

    async def drain(self) -> None:
        """Publish everything handed so far, then stop."""
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task

    async def publish(self, rows: Sequence[Outgoing]) -> None:
        futures = [
            await self._producer.send(self._topic, value=r.value, key=r.key, headers=CONTENT_TYPE_HEADERS) for r in rows
        ]
        await asyncio.gather(*futures)
        await self._conn.execute(MARK_PUBLISHED, [r.outbox_id for r in rows])
        self.published += len(rows)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Outgoing] = []
            item = await self._queue.get()
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.extend(item)
                if self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self.publish(batch)

    async def sweep(self) -> int:
        """Publish rows a crashed run left committed but unpublished (Kipinä's relay polls for these)."""
        swept = 0
        while True:
            async with self._conn.transaction():
                rows = await self._conn.fetch(CLAIM_UNPUBLISHED, 500)
                if not rows:
                    return swept
                futures = [
                    await self._producer.send(
                        r["topic"],
                        value=bytes(r["payload"]),
                        key=r["message_key"].encode(),
                        headers=CONTENT_TYPE_HEADERS,
                    )
                    for r in rows
                ]
                await asyncio.gather(*futures)
                await self._conn.execute(MARK_PUBLISHED, [r["id"] for r in rows])
            swept += len(rows)


# --------------------------------------------------------------------------- hop 2: intake


def _progress_rows(
    events: list[dict[str, Any]], cases: dict[str, asyncpg.Record]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Per event, what intake writes (services/intake/domain.py apply_event for IterationOpenedV1): the case's new
    progress (with its status history) when it moves forward, and the timeline entry in any case."""
    updates, timeline = [], []
    for event in events:
        data = event["data"]
        case = cases.get(data["case_id"])
        if case is None:  # another intake's case: nothing to track (Kipinä logs and skips it too)
            continue
        at = datetime.fromisoformat(event["time"])
        forward = case["status"] in _BEFORE_REVIEW and data["iteration"] >= case["iteration"]
        if forward and (case["status"], case["stage"], case["iteration"]) != (
            "in_review",
            data["stage"],
            data["iteration"],
        ):
            updates.append(
                (data["case_id"], "in_review", data["stage"], data["iteration"], case["outcome"], case["feedback"], at)
            )
        summary = (
            f"Review iteration {data['iteration']} opened at the {data['stage']} stage (revision {data['revision']})"
        )
        details = {"stage": data["stage"], "revision": data["revision"], "due_at": data["due_at"]}
        timeline.append(
            (data["case_id"], at, "iteration_opened", summary, data["iteration"], json.dumps(details), event["id"])
        )
    return updates, timeline


async def intake_batch(conn: asyncpg.Connection, events: list[dict[str, Any]]) -> int:
    """Hop 2 for a batch, in the caller's transaction; returns how many events were new."""
    claims = [("intake", e["id"], e["type"], e["subject"], e["correlationid"]) for e in events]
    claimed = await conn.fetchmany(INBOX_CLAIM + " RETURNING event_id", claims)
    fresh = _fresh(events, {str(r[0]) for r in claimed})
    if not fresh:
        return 0
    rows = await conn.fetchmany(SELECT_PROGRESS, [(e["data"]["case_id"],) for e in fresh])
    updates, timeline = _progress_rows(fresh, {str(r["id"]): r for r in rows})
    for statement, args in ((STORE_PROGRESS, updates), (ADD_TIMELINE, timeline)):
        if args:
            await conn.executemany(statement, args)
    return len(fresh)


async def intake_one(conn: asyncpg.Connection, event: dict[str, Any]) -> int:
    """Hop 2 for one event, statement after statement."""
    status = await conn.execute(
        INBOX_CLAIM, "intake", event["id"], event["type"], event["subject"], event["correlationid"]
    )
    if not status.endswith(" 1"):
        return 0
    row = await conn.fetchrow(SELECT_PROGRESS, event["data"]["case_id"])
    updates, timeline = _progress_rows([event], {event["data"]["case_id"]: row} if row is not None else {})
    for update in updates:
        await conn.execute(STORE_PROGRESS, *update)
    for item in timeline:
        await conn.execute(ADD_TIMELINE, *item)
    return 1


# --------------------------------------------------------------------------- a worker process


@dataclass(frozen=True)
class WorkerArgs:
    role: str  # "review" (hop 1) or "intake" (hop 2)
    mode: str  # "batched" or "single"
    bootstrap: str
    dsn: str
    group: str
    expect: int
    max_records: int
    records_path: Path


def _say(line: str) -> None:
    print(line, flush=True)


async def _wait_assigned(consumer: AIOKafkaConsumer, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("no partitions assigned")
        await asyncio.sleep(0.05)


def _units(
    batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]], mode: str
) -> list[tuple[list[dict[str, Any]], dict[TopicPartition, int]]]:
    """What goes in one transaction, with the offsets to commit after it: the whole batch, or each record alone."""
    if mode == "batched":
        if not batch:
            return []
        events = [json.loads(r.value or b"") for part in batch.values() for r in part]
        return [(events, {tp: part[-1].offset + 1 for tp, part in batch.items()})]
    return [([json.loads(r.value or b"")], {tp: r.offset + 1}) for tp, part in batch.items() for r in part]


async def _handle(
    conn: asyncpg.Connection, role: str, mode: str, events: list[dict[str, Any]]
) -> tuple[list[Outgoing], int]:
    """One hop's work on one unit, in the caller's transaction: the outbox rows to relay and how many were new."""
    if role == "review":
        outgoing = await review_batch(conn, events) if mode == "batched" else await review_one(conn, events[0])
        return outgoing, len(outgoing)
    return [], await intake_batch(conn, events) if mode == "batched" else await intake_one(conn, events[0])


async def worker(args: WorkerArgs) -> None:
    """One floor process: consume its topic until told to stop; say ``complete`` once ``expect`` events are done."""
    topic = IN_TOPIC if args.role == "review" else OUT_TOPIC
    conn = await asyncpg.connect(args.dsn)
    relay: Relay | None = None
    producer: AIOKafkaProducer | None = None
    if args.role == "review":
        producer = AIOKafkaProducer(
            bootstrap_servers=args.bootstrap, client_id="bench-floor-review-producer", **PRODUCER_SETTINGS
        )
        await producer.start()
        relay = Relay(await asyncpg.connect(args.dsn), producer, OUT_TOPIC)
        await relay.sweep()
        relay.start()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=f"bench-floor-{args.role}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=args.max_records if args.mode == "batched" else 100,
    )
    await consumer.start()
    await _wait_assigned(consumer)
    _say("ready")
    await asyncio.to_thread(sys.stdin.readline)  # "go"
    stopping = asyncio.Event()

    async def watch_stdin() -> None:
        await asyncio.to_thread(sys.stdin.readline)  # "stop", or the driver went away
        stopping.set()

    watcher = asyncio.create_task(watch_stdin())
    # (case id, the event's own time, when this hop committed it)
    records: list[tuple[str, str, float]] = []
    done = 0
    said_complete = False
    while not stopping.is_set():
        batch = await consumer.getmany(timeout_ms=100, max_records=args.max_records if args.mode == "batched" else 1)
        for events, offsets in _units(batch, args.mode):
            async with conn.transaction():
                outgoing, handled = await _handle(conn, args.role, args.mode, events)
            committed_at = time.time()
            await consumer.commit(offsets)
            if relay is not None:
                relay.hand(outgoing)
            done += handled
            records.extend((e["subject"], e["time"], committed_at) for e in events)
        if done >= args.expect and not said_complete:
            said_complete = True
            _say(f"complete {records[-1][2]:.6f}")
    if relay is not None:
        await relay.drain()
    await consumer.stop()
    if producer is not None:
        await producer.stop()
    await conn.close()
    watcher.cancel()
    args.records_path.write_text(json.dumps(records))
    _say("done")


# --------------------------------------------------------------------------- the driver


@dataclass(frozen=True)
class Prepared:
    env: dict[str, str]
    bootstrap: str
    review_url: str
    intake_url: str
    review_group: str
    intake_group: str
    events: list[dict[str, Any]]  # the submitted envelopes, their "time" set when they are produced


async def _migrated_database(env: dict[str, str], service: str, name: str, *, notify_trigger: bool) -> str:
    from services import intake, review
    from shared.db import apply_migrations
    from tests.support.infra import own_database, reset_database

    url = await own_database(env, service, name)
    await reset_database(url)
    package = {"intake": intake, "review": review}[service]
    await apply_migrations(url, Path(str(package.__file__)).parent / "migrations")
    if not notify_trigger:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DROP TRIGGER outbox_inserted ON outbox")
        finally:
            await conn.close()
    return url


def submitted_envelopes(call_id: uuid.UUID, cases: int, *, run: str) -> list[dict[str, Any]]:
    """CaseSubmittedV1 envelopes as intake's relay would publish them (made with Kipinä's contracts, off the clock)."""
    from shared.events import CaseSnapshot, CaseSubmittedV1, Contact, Organisation, new_event

    envelopes = []
    for n in range(cases):
        snapshot = CaseSnapshot(
            case_id=uuid.uuid4(),
            call_id=call_id,
            call_title=f"Floor call {run}",
            revision=1,
            title=f"Benchmark case number {n} {run}",
            summary="A summary long enough to pass validation.",
            problem="A problem statement long enough to pass validation.",
            solution="A solution statement long enough to pass validation.",
            organisation=Organisation(id="org-bench", name="Bench Org", business_id="0112038-9"),
            submitter_id="bench-sub",
            submitter=Contact(name="bench-sub", email="bench@example.org"),
            category="public_sector",
            language="en",
            oecd_principles=[1],
            iso_stage="concept",
        )
        event = new_event(
            CaseSubmittedV1(case=snapshot),
            service="intake",
            correlation_id=str(uuid.uuid4()),
            traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-02",
        )
        envelopes.append(json.loads(event.to_bytes()))
    return envelopes


async def _insert_submitted_cases(url: str, call_id: uuid.UUID, events: list[dict[str, Any]], *, run: str) -> None:
    """Intake's rows of the submitted cases (what POST /cases left): the call, each case, its status and timeline."""
    conn = await asyncpg.connect(url)
    try:
        await insert_call(conn, call_id, run=run)
        await insert_submitted_cases(conn, events, run=run)
    finally:
        await conn.close()


async def insert_call(conn: asyncpg.Connection, call_id: uuid.UUID, *, run: str) -> None:
    """Intake's row of the call the submitted cases belong to (open now)."""
    await conn.execute(
        """
            INSERT INTO calls (id, title, opens_at, closes_at, categories, languages, criteria, created_by)
            VALUES ($1, $2, now() - interval '1 hour', now() + interval '1 day', $3, $4, '[]'::jsonb, 'bench')
            """,
        call_id,
        f"Floor call {run}",
        ["public_sector"],
        ["en"],
    )


async def insert_submitted_cases(conn: asyncpg.Connection, events: list[dict[str, Any]], *, run: str) -> None:
    """Intake's rows of the submitted cases (what POST /cases left): each case, its status and timeline."""
    from services.intake.domain import title_key

    cases = [e["data"]["case"] for e in events]
    await conn.executemany(
        """
        INSERT INTO cases (id, call_id, submitter_id, organisation_id, title_key, content, revision, status, stage,
                           iteration)
        VALUES ($1, $2, $3, $4, $5, $6, 1, 'submitted', $7, 0)
        """,
        [
            (
                c["case_id"],
                c["call_id"],
                c["submitter_id"],
                c["organisation"]["id"],
                title_key(c["title"]),
                json.dumps(c),
                c["iso_stage"],
            )
            for c in cases
        ],
    )
    await conn.executemany(
        "INSERT INTO case_status_history (case_id, status, at) VALUES ($1, 'submitted', now())",
        [(c["case_id"],) for c in cases],
    )
    await conn.executemany(
        """
        INSERT INTO case_timeline (case_id, at, kind, summary, details)
        VALUES ($1, now(), 'submitted', $2, '{"revision": 1}')
        """,
        [(c["case_id"], f"Submitted to 'Floor call {run}'") for c in cases],
    )


async def prepare(cases: int, *, notify_trigger: bool = False) -> Prepared:
    """The floor's databases (emptied), topics, consumer groups at the topics' end, and the submitted cases."""
    from deploy import local
    from tests.support.infra import ensure_infra
    from tests.support.kafka import pin_group_to_end

    env = await asyncio.to_thread(ensure_infra)
    bootstrap = env["KIPINA_KAFKA_BOOTSTRAP"]
    # The real topics' partitions and replication (deploy/local.py's defaults, from the registry).
    await asyncio.to_thread(local.ensure_topics, bootstrap, (IN_TOPIC, OUT_TOPIC))
    review_url = await _migrated_database(env, "review", REVIEW_DATABASE, notify_trigger=notify_trigger)
    intake_url = await _migrated_database(env, "intake", INTAKE_DATABASE, notify_trigger=notify_trigger)
    run = uuid.uuid4().hex[:8]
    groups = (f"bench-floor-review-{run}", f"bench-floor-intake-{run}")
    await pin_group_to_end(bootstrap, groups[0], [IN_TOPIC])
    await pin_group_to_end(bootstrap, groups[1], [OUT_TOPIC])
    call_id = uuid.uuid4()
    events = submitted_envelopes(call_id, cases, run=run)
    await _insert_submitted_cases(intake_url, call_id, events, run=run)
    return Prepared(env, bootstrap, review_url, intake_url, groups[0], groups[1], events)


class Worker:
    """A floor process seen from the driver: started, told to go and to stop, its lines read."""

    def __init__(self, process: asyncio.subprocess.Process, role: str, records_path: Path) -> None:
        self.process = process
        self.role = role
        self.records_path = records_path

    @classmethod
    async def start(
        cls, role: str, *, mode: str, prepared: Prepared, expect: int, max_records: int, tmp: Path
    ) -> Worker:
        records_path = tmp / f"{role}.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.floor_events",
            "worker",
            role,
            "--mode",
            mode,
            "--bootstrap",
            prepared.bootstrap,
            "--dsn",
            prepared.review_url if role == "review" else prepared.intake_url,
            "--group",
            prepared.review_group if role == "review" else prepared.intake_group,
            "--expect",
            str(expect),
            "--max-records",
            str(max_records),
            "--records",
            str(records_path),
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process, role, records_path)

    async def line(self, within_s: float) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), within_s)
        if not raw:
            raise RuntimeError(f"floor {self.role} process exited ({await self.process.wait()})")
        return raw.decode().strip()

    async def expect_line(self, word: str, within_s: float) -> str:
        while True:
            line = await self.line(within_s)
            if line.split(" ", 1)[0] == word:
                return line

    def tell(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word.encode() + b"\n")

    async def stop(self, within_s: float = 60.0) -> list[tuple[str, str, float]]:
        self.tell("stop")
        await self.expect_line("done", within_s)
        await asyncio.wait_for(self.process.wait(), within_s)
        return [(case, at, float(committed)) for case, at, committed in json.loads(self.records_path.read_text())]

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


async def _produce(
    bootstrap: str,
    events: list[dict[str, Any]],
    *,
    rate: float | None,
    started: asyncio.Event | None = None,
    topic: str = IN_TOPIC,
    sent: list[float] | None = None,
) -> None:
    """Send the submitted envelopes (each stamped with its send time) all at once, or at Poisson arrivals; the
    send times (``time.time()``) are appended to ``sent`` when given (bench/run.py counts arrivals by them)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-floor-driver", **PRODUCER_SETTINGS)
    await producer.start()
    try:
        if started is not None:
            await started.wait()
        futures = []
        due = time.perf_counter()
        for event in events:
            if rate:
                due += random.expovariate(rate)
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            event["time"] = _now_iso()
            if sent is not None:
                sent.append(datetime.fromisoformat(event["time"]).timestamp())
            value = json.dumps(event, separators=(",", ":")).encode()
            futures.append(
                await producer.send(topic, value=value, key=event["subject"].encode(), headers=CONTENT_TYPE_HEADERS)
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def verify(prepared: Prepared) -> dict[str, int]:
    """The facts of a run, from the floor's databases: each case's rows, once per hop."""
    review = await asyncpg.connect(prepared.review_url)
    intake = await asyncpg.connect(prepared.intake_url)
    try:
        return {
            "review_inbox": await review.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'review'"),
            "review_cases": await review.fetchval("SELECT count(*) FROM cases"),
            "review_iterations": await review.fetchval("SELECT count(*) FROM iterations"),
            "review_tasks": await review.fetchval("SELECT count(*) FROM review_tasks"),
            "outbox_rows": await review.fetchval("SELECT count(*) FROM outbox"),
            "outbox_unpublished": await review.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"),
            "outbox_publish_attempts": await review.fetchval("SELECT coalesce(sum(attempts), 0) FROM outbox"),
            "intake_inbox": await intake.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'intake'"),
            "intake_in_review": await intake.fetchval("SELECT count(*) FROM cases WHERE status = 'in_review'"),
            "intake_status_history": await intake.fetchval("SELECT count(*) FROM case_status_history"),
            "intake_timeline_opened": await intake.fetchval(
                "SELECT count(*) FROM case_timeline WHERE kind = 'iteration_opened'"
            ),
        }
    finally:
        await review.close()
        await intake.close()


def expected_facts(cases: int) -> dict[str, int]:
    """What ``verify`` finds when every case made both hops exactly once."""
    return {
        "review_inbox": cases,
        "review_cases": cases,
        "review_iterations": cases,
        "review_tasks": cases,
        "outbox_rows": cases,
        "outbox_unpublished": 0,
        "outbox_publish_attempts": cases,
        "intake_inbox": cases,
        "intake_in_review": cases,
        "intake_status_history": 2 * cases,  # submitted, in_review
        "intake_timeline_opened": cases,
    }


def hop_latencies(
    review_records: Sequence[tuple[str, str, float]], intake_records: Sequence[tuple[str, str, float]]
) -> dict[str, dict[str, float]]:
    """Per case, from the events' own times and when each hop committed them: hop 1 (submitted → review committed),
    hop 2 (IterationOpenedV1 → intake committed) and end to end (submitted → intake committed)."""
    submitted = {case: datetime.fromisoformat(t).timestamp() for case, t, _ in review_records}
    hop1 = [committed - datetime.fromisoformat(t).timestamp() for _, t, committed in review_records]
    hop2 = [committed - datetime.fromisoformat(t).timestamp() for _, t, committed in intake_records]
    end = [committed - submitted[case] for case, _, committed in intake_records if case in submitted]
    return {"hop1": latency_summary(hop1), "hop2": latency_summary(hop2), "end_to_end": latency_summary(end)}


async def run(
    cases: int,
    *,
    mode: str = "batched",
    rate: float | None = None,
    max_records: int = 500,
    notify_trigger: bool = False,
    within_s: float = 600.0,
) -> dict[str, Any]:
    """One run of the floor; its figures (and the facts that every case made both hops exactly once)."""
    prepared = await prepare(cases, notify_trigger=notify_trigger)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        workers = [
            await Worker.start(role, mode=mode, prepared=prepared, expect=cases, max_records=max_records, tmp=Path(tmp))
            for role in ("review", "intake")
        ]
        try:
            for w in workers:
                await w.expect_line("ready", 120)
            go = asyncio.Event()
            producing = asyncio.create_task(_produce(prepared.bootstrap, prepared.events, rate=rate, started=go))
            if rate is None:  # pre-produced: every case is waiting when the clock starts
                go.set()
                await producing
            meter = CpuMeter({f"floor_{w.role}": w.process.pid for w in workers})
            meter.start()
            started = time.time()
            for w in workers:
                w.tell("go")
            go.set()
            complete = float((await workers[1].expect_line("complete", within_s)).split()[1])
            cpu = meter.stop()
            await producing
            review_records = await workers[0].stop()
            intake_records = await workers[1].stop()
        finally:
            for w in workers:
                w.kill()
    seconds = complete - started
    facts = await verify(prepared)
    return {
        "floor": "events",
        "mode": mode,
        "cases": cases,
        "arrivals": f"open loop, Poisson, {rate:g}/s" if rate else "pre-produced (latencies are a queue's)",
        "seconds": round(seconds, 3),
        "cases_per_s": round(cases / seconds, 1),
        "cpu_s": cpu,
        "cpu_ms_per_case": per_case_ms(cpu["total"], cases),
        "latency_ms": hop_latencies(review_records, intake_records),
        "facts": facts,
        "exactly_once": facts == expected_facts(cases),
        "settings": {
            "topics": [IN_TOPIC, OUT_TOPIC],
            "max_records": max_records if mode == "batched" else 1,
            "producer": PRODUCER_SETTINGS,
            "notify_trigger": notify_trigger,
            "loop": type(asyncio.get_running_loop()).__module__,
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    work = sub.add_parser("worker", help="(internal) one floor process")
    work.add_argument("role", choices=["review", "intake"])
    work.add_argument("--mode", choices=["batched", "single"], required=True)
    work.add_argument("--bootstrap", required=True)
    work.add_argument("--dsn", required=True)
    work.add_argument("--group", required=True)
    work.add_argument("--expect", type=int, required=True)
    work.add_argument("--max-records", type=int, default=500)
    work.add_argument("--records", type=Path, required=True)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--mode", choices=["batched", "single"], default="batched")
    parser.add_argument("--rate", type=float, default=None, help="open-loop Poisson arrivals per second")
    parser.add_argument("--max-records", type=int, default=500, help="records per batch (batched mode)")
    parser.add_argument("--notify-trigger", action="store_true", help="keep the outbox's NOTIFY trigger")
    parser.add_argument("--out", type=Path, help="also write the figures (JSON) here")
    args = parser.parse_args(argv)
    if args.command == "worker":
        asyncio.run(
            worker(
                WorkerArgs(
                    role=args.role,
                    mode=args.mode,
                    bootstrap=args.bootstrap,
                    dsn=args.dsn,
                    group=args.group,
                    expect=args.expect,
                    max_records=args.max_records,
                    records_path=args.records,
                )
            )
        )
        return
    figures = asyncio.run(
        run(
            args.cases,
            mode=args.mode,
            rate=args.rate,
            max_records=args.max_records,
            notify_trigger=args.notify_trigger,
        )
    )
    report(figures, args.out)


if __name__ == "__main__":
    main()

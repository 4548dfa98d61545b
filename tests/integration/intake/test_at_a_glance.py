"""Intake's dashboard queries against a real, migrated PostgreSQL: the funnel (cases per call and status), the status
history every status write keeps, and the time cases spend in each funnel stage, from rows of known values."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.intake.domain import TIMED_STAGES, CaseProgress, CaseStatus, FunnelStage, submitted_entry
from services.intake.repository import FunnelRow, IntakeRepository, StageTime
from shared.db import Connection, apply_migrations
from shared.events import CaseSnapshot, Contact, Organisation
from shared.vocabulary import Category, IsoStage, Language
from tests.support.databases import migrated_pool, migrations_of
from tests.support.infra import own_database, reset_database

pytestmark = pytest.mark.integration

MIGRATIONS = migrations_of("intake")
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
CASE = uuid.uuid4()


@pytest.fixture
async def pool(infra_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(infra_env, "intake", "test_intake_glance") as migrated:
        yield migrated


async def _call(conn: Connection, title: str, created_at: datetime) -> uuid.UUID:
    call_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO calls (id, title, opens_at, closes_at, categories, languages, created_by, created_at, criteria) "
        "VALUES ($1, $2, $3::timestamptz, $3::timestamptz + interval '30 days', '{education}', '{fi}', 'op', $3, '[]')",
        call_id,
        title,
        created_at,
    )
    return call_id


async def _case(conn: Connection, call_id: uuid.UUID, status: CaseStatus, *history: tuple[str, int]) -> uuid.UUID:
    """A case in ``status``, and its status history: (status, minutes before NOW) in the order recorded."""
    case_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO cases (id, call_id, submitter_id, organisation_id, title_key, content, status, stage) "
        "VALUES ($1, $2, 'sub', 'org', $3, '{}', $4, 'concept')",
        case_id,
        call_id,
        case_id.hex,
        status.value,
    )
    for entered, minutes_ago in history:
        await conn.execute(
            "INSERT INTO case_status_history (case_id, status, at) VALUES ($1, $2, $3)",
            case_id,
            entered,
            NOW - timedelta(minutes=minutes_ago),
        )
    return case_id


async def test_the_funnel_counts_cases_per_call_and_status_newest_call_first(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        older = await _call(conn, "Ideas 2026", NOW - timedelta(days=400))
        newer = await _call(conn, "Ideas 2027", NOW - timedelta(days=30))
        await _call(conn, "No cases yet", NOW)
        for status, n in ((CaseStatus.PUBLISHED, 2), (CaseStatus.WITHDRAWN, 1)):
            for _ in range(n):
                await _case(conn, older, status)
        for status, n in ((CaseStatus.REJECTED, 1), (CaseStatus.SUBMITTED, 3), (CaseStatus.CHANGES_REQUESTED, 2)):
            for _ in range(n):
                await _case(conn, newer, status)
        funnel = await IntakeRepository(conn).funnel()
    assert funnel == [
        FunnelRow(newer, "Ideas 2027", CaseStatus.SUBMITTED, 3),
        FunnelRow(newer, "Ideas 2027", CaseStatus.CHANGES_REQUESTED, 2),
        FunnelRow(newer, "Ideas 2027", CaseStatus.REJECTED, 1),
        FunnelRow(older, "Ideas 2026", CaseStatus.PUBLISHED, 2),
        FunnelRow(older, "Ideas 2026", CaseStatus.WITHDRAWN, 1),
    ]


async def test_time_in_stage_from_the_status_history(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        older = await _call(conn, "Ideas 2026", NOW - timedelta(days=400))
        call = await _call(conn, "Ideas 2027", NOW - timedelta(days=30))
        # Submitted 10 min, then in review 60 min (changes asked and a revision stay in review), nominated since.
        await _case(
            conn,
            call,
            CaseStatus.IN_EVALUATION,
            ("submitted", 100),
            ("in_review", 90),
            ("changes_requested", 70),
            ("revised", 50),
            ("in_review", 40),
            ("nominated", 30),
            ("in_evaluation", 20),
        )
        # Submitted 20 min, in review 30 min so far.
        await _case(conn, call, CaseStatus.IN_REVIEW, ("submitted", 50), ("in_review", 30))
        # Submitted 40 min, then withdrawn (a final stage, not measured).
        await _case(conn, call, CaseStatus.WITHDRAWN, ("submitted", 60), ("withdrawn", 20))
        # Still submitted, for 5 min.
        await _case(conn, call, CaseStatus.SUBMITTED, ("submitted", 5))
        # Recorded in order, but the event's clock ran behind: its stay in review counts as none.
        await _case(conn, older, CaseStatus.NOMINATED, ("submitted", 30), ("in_review", 20), ("nominated", 25))
        times = await IntakeRepository(conn).time_in_stage(stages=TIMED_STAGES, now=NOW)
    minutes = lambda n: timedelta(minutes=n)  # noqa: E731
    assert times == [
        StageTime(call, "Ideas 2027", FunnelStage.SUBMITTED, 3, minutes(20), minutes(40), 1, minutes(5)),
        StageTime(call, "Ideas 2027", FunnelStage.IN_REVIEW, 1, minutes(60), minutes(60), 1, minutes(30)),
        StageTime(call, "Ideas 2027", FunnelStage.NOMINATED, 0, None, None, 1, minutes(30)),
        StageTime(older, "Ideas 2026", FunnelStage.SUBMITTED, 1, minutes(10), minutes(10), 0, None),
        StageTime(older, "Ideas 2026", FunnelStage.IN_REVIEW, 1, minutes(0), minutes(0), 0, None),
        StageTime(older, "Ideas 2026", FunnelStage.NOMINATED, 0, None, None, 1, minutes(25)),
    ]
    # Only the stages asked for.
    async with pool.acquire() as conn:
        only = await IntakeRepository(conn).time_in_stage(stages=[FunnelStage.NOMINATED], now=NOW)
    assert [(t.call_title, t.stage) for t in only] == [
        ("Ideas 2027", FunnelStage.NOMINATED),
        ("Ideas 2026", FunnelStage.NOMINATED),
    ]


def _snapshot(call_id: uuid.UUID, revision: int = 1) -> CaseSnapshot:
    return CaseSnapshot(
        case_id=CASE,
        call_id=call_id,
        call_title="Ideas 2027",
        revision=revision,
        title="Guided forms",
        summary="s",
        problem="p",
        solution="s",
        organisation=Organisation(id="org", name="Org", business_id="0112038-9"),
        submitter_id="sub",
        submitter=Contact(name="Sub", email="sub@example.org"),
        category=Category.EDUCATION,
        language=Language.FI,
        iso_stage=IsoStage.CONCEPT,
    )


async def test_every_status_write_keeps_the_history_once_per_change(pool: asyncpg.Pool) -> None:
    event_time = datetime(2027, 2, 1, 9, tzinfo=UTC)
    async with pool.acquire() as conn, conn.transaction():  # one transaction: now() is one time
        call = await _call(conn, "Ideas 2027", NOW)
        repo = IntakeRepository(conn)
        submitted = CaseProgress(status=CaseStatus.SUBMITTED, stage=IsoStage.CONCEPT)
        await repo.insert_case(
            snapshot=_snapshot(call),
            title_key="guided",
            progress=submitted,
            entry=submitted_entry(call_title="Ideas 2027"),
            idempotency_key=None,
            request_fingerprint=None,
        )
        in_review = CaseProgress(status=CaseStatus.IN_REVIEW, stage=IsoStage.CONCEPT, iteration=1)
        await repo.save_progress(case_id=CASE, progress=in_review, at=event_time)
        # The same status again (a stage advanced): no new entry.
        await repo.save_progress(case_id=CASE, progress=CaseProgress(CaseStatus.IN_REVIEW, IsoStage.VALIDATION, 1))
        await repo.save_progress(case_id=CASE, progress=CaseProgress(CaseStatus.CHANGES_REQUESTED, IsoStage.VALIDATION))
        await repo.update_case_content(snapshot=_snapshot(call, 2), title_key="guided", status=CaseStatus.REVISED)
        rows = await conn.fetch("SELECT status, at FROM case_status_history WHERE case_id = $1 ORDER BY id", CASE)
        db_now = await conn.fetchval("SELECT now()")
    assert [r["status"] for r in rows] == ["submitted", "in_review", "changes_requested", "revised"]
    assert rows[1]["at"] == event_time  # the event's time
    assert all(r["at"] == db_now for r in (rows[0], rows[2], rows[3]))  # when intake recorded it


async def test_tracking_an_event_reads_and_stores_progress_with_the_same_history_rule(pool: asyncpg.Pool) -> None:
    """The consumer's path (get_progress, store_progress: one statement for the update and its history entry)."""
    event_time = datetime(2027, 2, 1, 9, tzinfo=UTC)
    async with pool.acquire() as conn, conn.transaction():
        call = await _call(conn, "Ideas 2027", NOW)
        case_id = await _case(conn, call, CaseStatus.SUBMITTED, ("submitted", 10))
        repo = IntakeRepository(conn)
        assert await repo.get_progress(uuid.uuid4()) is None
        assert await repo.get_progress(case_id, for_update=True) == CaseProgress(CaseStatus.SUBMITTED, IsoStage.CONCEPT)
        in_review = CaseProgress(CaseStatus.IN_REVIEW, IsoStage.CONCEPT, iteration=1)
        await repo.store_progress(case_id=case_id, progress=in_review, at=event_time)
        # The same status again (a stage advanced): no new entry; then a new status at the transaction's time.
        await repo.store_progress(case_id=case_id, progress=CaseProgress(CaseStatus.IN_REVIEW, IsoStage.VALIDATION, 1))
        changes = CaseProgress(CaseStatus.CHANGES_REQUESTED, IsoStage.VALIDATION, 1, feedback="more data")
        await repo.store_progress(case_id=case_id, progress=changes)
        # A case that does not exist: nothing written.
        await repo.store_progress(case_id=uuid.uuid4(), progress=in_review, at=event_time)
        rows = await conn.fetch("SELECT status, at FROM case_status_history WHERE case_id = $1 ORDER BY id", case_id)
        assert await repo.get_progress(case_id) == changes
        assert await conn.fetchval("SELECT count(*) FROM case_status_history") == 3
        db_now = await conn.fetchval("SELECT now()")
    assert [(r["status"], r["at"]) for r in rows] == [
        ("submitted", NOW - timedelta(minutes=10)),
        ("in_review", event_time),
        ("changes_requested", db_now),
    ]


async def test_the_migration_gives_cases_from_before_their_history(infra_env: dict[str, str], tmp_path: Path) -> None:
    url = await own_database(infra_env, "intake", "test_intake_glance")
    await reset_database(url)
    before = tmp_path / "migrations"
    before.mkdir()
    for path in MIGRATIONS.glob("*.sql"):
        if path.name < "0103":
            shutil.copy(path, before)
    await apply_migrations(url, before)
    conn = await asyncpg.connect(url)
    try:
        call = await _call(conn, "Ideas 2026", NOW - timedelta(days=400))
        created, changed = NOW - timedelta(days=10), NOW - timedelta(days=2)
        fresh, moved = uuid.uuid4(), uuid.uuid4()
        for case_id, status in ((fresh, "submitted"), (moved, "nominated")):
            await conn.execute(
                "INSERT INTO cases (id, call_id, submitter_id, organisation_id, title_key, content, status, stage, "
                "created_at, updated_at) VALUES ($1, $2, 'sub', 'org', $3, '{}', $4, 'concept', $5, $6)",
                *(case_id, call, case_id.hex, status, created, changed),
            )
        assert "0103.case-status-history" in await apply_migrations(url, MIGRATIONS)
        rows = await conn.fetch("SELECT case_id, status, at FROM case_status_history ORDER BY case_id, id")
    finally:
        await conn.close()
    assert sorted((r["case_id"], r["status"], r["at"]) for r in rows) == sorted(
        [(fresh, "submitted", created), (moved, "submitted", created), (moved, "nominated", changed)]
    )

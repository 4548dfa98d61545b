"""Intake's migrations upgrade a database that holds data: the case's organisation column and its title
index (0101), and the timeline's one vocabulary (0102)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from services.intake.domain import TimelineKind
from services.intake.repository import IntakeRepository
from shared.db import Connection, apply_migrations, create_pool
from tests.support.infra import own_database, reset_database

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).parents[3] / "services" / "intake" / "migrations"

# Every kind the timeline held before 0102: the submitter's actions, and the tracked events' types.
OLD_KINDS = {
    "submitted": TimelineKind.SUBMITTED,
    "revised": TimelineKind.REVISED,
    "withdrawn": TimelineKind.WITHDRAWN,
    "kipina.review.iteration_opened.v1": TimelineKind.ITERATION_OPENED,
    "kipina.review.changes_requested.v1": TimelineKind.CHANGES_REQUESTED,
    "kipina.review.stage_advanced.v1": TimelineKind.STAGE_ADVANCED,
    "kipina.review.rejected.v1": TimelineKind.REJECTED,
    "kipina.review.nominated.v1": TimelineKind.NOMINATED,
    "kipina.review.escalated.v1": TimelineKind.ESCALATED,
    "kipina.award.evaluation_opened.v1": TimelineKind.EVALUATION_OPENED,
    "kipina.award.decided.v1": TimelineKind.DECIDED,
    "kipina.award.results_published.v1": TimelineKind.RESULTS_PUBLISHED,
}


async def insert_case(conn: Connection, *, call_id: uuid.UUID, org: str, title_key: str, upgraded: bool) -> uuid.UUID:
    """A case row as intake wrote it before 0101 (no organisation column) or after (``upgraded``)."""
    case_id = uuid.uuid4()
    content = {"organisation": {"id": org, "name": "N", "business_id": "0101263-6"}}
    if upgraded:
        await conn.execute(
            "INSERT INTO cases (id, call_id, submitter_id, organisation_id, title_key, content, status, stage) "
            "VALUES ($1, $2, $3, $4, $5, $6, 'submitted', 'concept')",
            *(case_id, call_id, f"user-{org}", org, title_key, content),
        )
    else:
        await conn.execute(
            "INSERT INTO cases (id, call_id, submitter_id, title_key, content, status, stage) "
            "VALUES ($1, $2, $3, $4, $5, 'submitted', 'concept')",
            *(case_id, call_id, f"user-{org}", title_key, content),
        )
    return case_id


async def test_an_old_database_is_upgraded(infra_env: dict[str, str], tmp_path: Path) -> None:
    url = await own_database(infra_env, "intake", "test_intake_upgrade")
    await reset_database(url)
    before = tmp_path / "migrations"
    before.mkdir()
    shutil.copy(MIGRATIONS / "0100.intake.sql", before)
    await apply_migrations(url, before)

    pool = await create_pool(url)
    try:
        async with pool.acquire() as conn:
            call_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO calls (id, title, opens_at, closes_at, categories, languages, created_by) "
                "VALUES ($1, 'QIA', now(), now() + interval '1 day', '{education}', '{fi}', 'op')",
                call_id,
            )
            espoo = await insert_case(conn, call_id=call_id, org="org-espoo", title_key="smartlibrary", upgraded=False)
            for kind in OLD_KINDS:
                await conn.execute(
                    "INSERT INTO case_timeline (case_id, at, kind, summary) VALUES ($1, now(), $2, 's')", espoo, kind
                )

            applied = await apply_migrations(url, MIGRATIONS)
            assert {"0101.case-organisation", "0102.timeline-kinds"} <= set(applied)

            # 0101: the organisation comes out of the stored content; titles are one organisation's own.
            assert await conn.fetchval("SELECT organisation_id FROM cases WHERE id = $1", espoo) == "org-espoo"
            await insert_case(conn, call_id=call_id, org="org-vantaa", title_key="smartlibrary", upgraded=True)
            with pytest.raises(asyncpg.UniqueViolationError) as clash:
                await insert_case(conn, call_id=call_id, org="org-espoo", title_key="smartlibrary", upgraded=True)
            assert clash.value.constraint_name == "cases_call_organisation_title"
            assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = 'cases_call_title'") == 0

            # 0102: every entry speaks the one vocabulary, in the order it was recorded.
            kinds = await conn.fetch("SELECT kind FROM case_timeline WHERE case_id = $1 ORDER BY id", espoo)
            assert [r["kind"] for r in kinds] == [k.value for k in OLD_KINDS.values()]
            timeline = await IntakeRepository(conn).timeline(espoo)
            assert [item.kind for item in timeline] == list(OLD_KINDS.values())
    finally:
        await pool.close()

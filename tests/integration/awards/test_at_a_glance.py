"""Awards' dashboard queries against a real, migrated PostgreSQL, from evaluations, assignments and scorecards of
known values: scoring progress per call and per juror, the scored cases the leaderboard and the spread are ranked
from, and the dashboard's tables that come of them (spread per case, leaderboard per call and category)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.awards import workflow
from services.awards.domain import DEFAULT_CRITERIA
from services.awards.repository import AwardsRepository, CallScoring, JurorScoring
from shared.db import Connection
from shared.glance import Label, Word
from shared.uow import Origin, UnitOfWork
from tests.support.databases import migrated_pool

pytestmark = pytest.mark.integration

OPENED = datetime(2027, 3, 1, 12, tzinfo=UTC)
OLD_CALL, NEW_CALL = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def pool(infra_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(infra_env, "awards", "test_awards_glance") as migrated:
        yield migrated


async def _evaluation(
    conn: Connection,
    call_id: uuid.UUID,
    title: str,
    *,
    category: str = "education",
    status: str = "open",
    scores: dict[str, int | None],
    opened_days: int = 0,
) -> uuid.UUID:
    """A case under evaluation with its jurors assigned and, for a juror with a score, their scorecard: every one of
    the five default criteria (weight 1, scale 0–5) scored the same, so that is their weighted score."""
    case_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO evaluations (case_id, call_id, call_title, title, summary, category, language, organisation_id,"
        " organisation_name, criteria, status, opened_at) "
        "VALUES ($1, $2, $3, $4, 's', $5, 'fi', 'org', 'Org', $6, $7, $8)",
        case_id,
        call_id,
        "Ideas 2027" if call_id == NEW_CALL else "Ideas 2026",
        title,
        category,
        [c.model_dump(mode="json") for c in DEFAULT_CRITERIA],
        status,
        OPENED + timedelta(days=opened_days),
    )
    for juror, score in scores.items():
        await conn.execute(
            "INSERT INTO assignments (case_id, juror_id, scoring_due_at) VALUES ($1, $2, $3)",
            case_id,
            juror,
            OPENED + timedelta(days=14),
        )
        if score is not None:
            await conn.execute(
                "INSERT INTO scorecards (case_id, juror_id, scores) VALUES ($1, $2, $3)",
                case_id,
                juror,
                [{"criterion": c.key, "score": score, "comment": ""} for c in DEFAULT_CRITERIA],
            )
    return case_id


async def _seed(conn: Connection) -> dict[str, uuid.UUID]:
    return {
        # The older call, opened a year before: all scored.
        "Archive": await _evaluation(conn, OLD_CALL, "Archive", scores={"ann": 3, "bo": 3}, opened_days=-365),
        # The newer call: three cases in two categories, one juror of each not yet scored, one case withdrawn.
        "Kiosk": await _evaluation(conn, NEW_CALL, "Kiosk", scores={"ann": 1, "bo": 5, "cid": None}),
        "Library": await _evaluation(conn, NEW_CALL, "Library", scores={"ann": 4, "bo": 3}, opened_days=1),
        "Clinic": await _evaluation(
            conn, NEW_CALL, "Clinic", category="health_care", scores={"cid": 2, "bo": None}, opened_days=2
        ),
        "Gone": await _evaluation(conn, NEW_CALL, "Gone", status="withdrawn", scores={"ann": 5, "bo": 5}),
    }


async def test_scoring_progress_per_call_and_per_juror_leaves_withdrawn_cases_out(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _seed(conn)
        repo = AwardsRepository(conn)
        assert await repo.scoring_per_call() == [
            CallScoring(NEW_CALL, "Ideas 2027", scored=5, assigned=7),
            CallScoring(OLD_CALL, "Ideas 2026", scored=2, assigned=2),
        ]
        assert await repo.scoring_per_juror() == [
            JurorScoring("ann", scored=3, assigned=3),
            JurorScoring("bo", scored=3, assigned=4),
            JurorScoring("cid", scored=1, assigned=2),
        ]


async def test_the_scored_cases_of_a_call_are_what_the_leaderboard_ranks(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ids = await _seed(conn)
        cases = await AwardsRepository(conn).scored_cases(NEW_CALL)
    assert [(c.case_id, c.title, c.category, c.jurors_assigned) for c in cases] == [
        (ids["Kiosk"], "Kiosk", "education", 3),
        (ids["Library"], "Library", "education", 2),
        (ids["Clinic"], "Clinic", "health_care", 2),
    ]
    assert cases[0].criteria == DEFAULT_CRITERIA
    assert {juror: set(scores.values()) for juror, scores in cases[0].scorecards.items()} == {"ann": {1}, "bo": {5}}


async def test_the_dashboard_shows_the_spread_per_case_and_the_leaderboard_per_call_and_category(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await _seed(conn)
    uow = UnitOfWork(pool, repository=AwardsRepository, origin=Origin(service="awards", correlation_id="test"))
    per_call, per_juror, spread, board = await workflow.at_a_glance(uow=uow)
    assert list(per_call.rows) == [("Ideas 2027", 5, 7), ("Ideas 2026", 2, 2)]
    assert list(per_juror.rows) == [("ann", 3, 3), ("bo", 3, 4), ("cid", 1, 2)]
    # Two jurors or more: Kiosk's 1 and 5 are four points apart on a 0–5 scale (large: 1.25 or more), Library's one.
    assert list(spread.rows) == [
        ("Ideas 2027", "Kiosk", 2, 1.0, 5.0, 2.0, Word("glance_spread_large")),
        ("Ideas 2027", "Library", 2, 3.0, 4.0, 0.5, None),
        ("Ideas 2026", "Archive", 2, 3.0, 3.0, 0.0, None),
    ]
    assert list(board.rows) == [
        ("Ideas 2027", Label("category", "education"), 1, "Library", 3.5, "2 / 2"),
        ("Ideas 2027", Label("category", "education"), 2, "Kiosk", 3.0, "2 / 3"),
        ("Ideas 2027", Label("category", "health_care"), 1, "Clinic", 2.0, "1 / 2"),
        ("Ideas 2026", Label("category", "education"), 1, "Archive", 3.0, "2 / 2"),
    ]

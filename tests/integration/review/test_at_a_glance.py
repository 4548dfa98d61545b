"""Review's dashboard queries against a real, migrated PostgreSQL: the queue (queued, claimed, overdue) and the load
per reviewer, from review tasks of known status, due time and holder."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from services.review.domain import TaskStatus
from services.review.repository import QueueFigures, ReviewerLoad, ReviewRepository
from shared.db import Connection
from tests.support.databases import migrated_pool

pytestmark = pytest.mark.integration

LATE, ON_TIME = timedelta(days=-1), timedelta(days=1)


@pytest.fixture
async def pool(infra_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(infra_env, "review", "test_review_glance") as migrated:
        yield migrated


async def _iteration(conn: Connection) -> uuid.UUID:
    """A case in review with its first iteration open, for tasks to belong to."""
    case_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO cases (case_id, call_id, call_title, title, summary, category, language, organisation_id, "
        "organisation_name, submitter_id, stage, revision, reviewers_per_iteration, status, current_iteration) "
        "VALUES ($1, $2, 'Ideas', 'Case', 's', 'education', 'fi', 'org', 'Org', 'sub', 'concept', 1, 2, "
        "'in_review', 1)",
        case_id,
        uuid.uuid4(),
    )
    await conn.execute(
        "INSERT INTO iterations (case_id, iteration, stage, revision, status, due_at) "
        "VALUES ($1, 1, 'concept', 1, 'open', now() + interval '7 days')",
        case_id,
    )
    return case_id


async def _task(
    conn: Connection, status: TaskStatus, due_in: timedelta, reviewer: str | None = None, *, slot: int = 1
) -> None:
    case_id = await _iteration(conn)
    await conn.execute(
        "INSERT INTO review_tasks (task_id, case_id, iteration, slot, status, due_at, reviewer_id) "
        "VALUES ($1, $2, 1, $3, $4, now() + $5::interval, $6)",
        uuid.uuid4(),
        case_id,
        slot,
        status.value,
        due_in,
        reviewer,
    )


async def test_an_empty_queue_is_all_zeros(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        repo = ReviewRepository(conn)
        assert await repo.queue_figures() == QueueFigures(queued=0, claimed=0, overdue=0)
        assert await repo.reviewer_load() == []


async def test_the_queue_and_each_reviewers_load(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for due_in in (ON_TIME, ON_TIME, ON_TIME, LATE):
            await _task(conn, TaskStatus.QUEUED, due_in)
        await _task(conn, TaskStatus.CLAIMED, LATE, "rev-anna")
        await _task(conn, TaskStatus.CLAIMED, ON_TIME, "rev-anna")
        await _task(conn, TaskStatus.CLAIMED, ON_TIME, "rev-bo")
        # Decided or cancelled tasks are out of the queue, overdue or not; a decided one counts to its reviewer.
        for reviewer in ("rev-bo", "rev-bo", "rev-cid"):
            await _task(conn, TaskStatus.DECIDED, LATE, reviewer)
        await _task(conn, TaskStatus.CANCELLED, LATE)
        repo = ReviewRepository(conn)
        assert await repo.queue_figures() == QueueFigures(queued=4, claimed=3, overdue=2)
        # Busiest first: most held, then most decided, then by id.
        assert await repo.reviewer_load() == [
            ReviewerLoad("rev-anna", holding=2, decided=0),
            ReviewerLoad("rev-bo", holding=1, decided=2),
            ReviewerLoad("rev-cid", holding=0, decided=1),
        ]

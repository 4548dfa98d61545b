"""The reliability tables' flow figures (shared/repository.py) on the real PostgreSQL: rows at known times, exact
per-minute counts (the operator dashboard's chart and its rate over the last minute)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from shared.repository import FlowCount, FlowMinute, ReliabilityRepository
from tests.support.infra import migrated_pool

pytestmark = pytest.mark.integration

PROBE_MIGRATIONS = Path(__file__).resolve().parents[2] / "support" / "probe_migrations"
T0 = datetime(2031, 5, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pool(probe_db_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(probe_db_url, PROBE_MIGRATIONS) as migrated:
        yield migrated


async def _consumed(pool: asyncpg.Pool, *at: datetime) -> None:
    await pool.executemany(
        "INSERT INTO inbox (consumer, event_id, event_type, processed_at) VALUES ('probe', $1, 't', $2)",
        [(uuid.uuid4(), t) for t in at],
    )


async def _published(pool: asyncpg.Pool, *at: datetime | None) -> None:
    await pool.executemany(
        """
        INSERT INTO outbox (event_id, event_type, topic, message_key, payload, created_at, published_at)
        VALUES ($1, 't', 'kipina.test.probe.v1', 'k', '\\x00', $2, $3)
        """,
        [(uuid.uuid4(), (t or T0) - timedelta(seconds=1), t) for t in at],
    )


def _at(minute: int, second: float = 0) -> datetime:
    return T0 + timedelta(minutes=minute, seconds=second)


async def test_events_consumed_and_published_are_counted_per_minute_with_quiet_minutes_as_zero(
    pool: asyncpg.Pool,
) -> None:
    await _consumed(pool, _at(0), _at(0, 59.999), _at(1, 30), _at(3, 1), _at(3, 2), _at(3, 3))
    await _consumed(pool, _at(-1, 59.999), _at(4))  # just before the window, and at its (exclusive) end
    await _published(pool, _at(0, 10), _at(2, 0), _at(2, 59), _at(3, 30))
    await _published(pool, _at(-5), _at(5), None)  # outside, and one still waiting (not published)

    minutes = await ReliabilityRepository(pool).flow_per_minute(since=_at(0), until=_at(4))

    assert minutes == [
        FlowMinute(_at(0), consumed=2, published=1),
        FlowMinute(_at(1), consumed=1, published=0),
        FlowMinute(_at(2), consumed=0, published=2),
        FlowMinute(_at(3), consumed=3, published=1),
    ]


async def test_a_window_that_starts_inside_a_minute_counts_from_its_start_and_ends_with_the_current_minute(
    pool: asyncpg.Pool,
) -> None:
    await _consumed(pool, _at(0, 5), _at(0, 40), _at(1, 10), _at(1, 50))
    await _published(pool, _at(0, 20), _at(1, 5))

    repo = ReliabilityRepository(pool)
    minutes = await repo.flow_per_minute(since=_at(0, 30), until=_at(1, 20))
    # The first minute holds only what came from `since` on; the last is the minute `until` falls in, up to it.
    assert minutes == [FlowMinute(_at(0), consumed=1, published=0), FlowMinute(_at(1), consumed=1, published=1)]
    assert await repo.flow_since(_at(0, 30)) == FlowCount(consumed=3, published=1)


async def test_an_hour_of_minutes_is_sixty_buckets_even_when_nothing_flowed(pool: asyncpg.Pool) -> None:
    minutes = await ReliabilityRepository(pool).flow_per_minute(since=_at(-59), until=_at(0, 12.5))
    assert len(minutes) == 60
    assert minutes[0].minute == _at(-59) and minutes[-1].minute == _at(0)
    assert {(m.consumed, m.published) for m in minutes} == {(0, 0)}

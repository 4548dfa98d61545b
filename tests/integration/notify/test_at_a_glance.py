"""Notify's dashboard queries against a real, migrated PostgreSQL, from deliveries of known channel, status, time and
error: deliveries by channel and status, and the latest that failed for good with their reasons."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.notify.domain import DeliveryStatus
from services.notify.repository import DeliveryCount, FailedDelivery, NotifyRepository
from shared.db import Connection
from tests.support.databases import migrated_pool

pytestmark = pytest.mark.integration

T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
async def pool(infra_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(infra_env, "notify", "test_notify_glance") as migrated:
        yield migrated


async def _delivery(
    conn: Connection,
    channel: str,
    status: DeliveryStatus,
    *,
    recipient: str = "someone@example.org",
    minute: int = 0,
    error: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO deliveries (id, case_id, source_event_id, source_event_type, correlation_id, channel, recipient,"
        " language, template, subject, body, status, last_error, updated_at) "
        "VALUES ($1, $2, $3, 'kipina.case.submitted.v1', 'c', $4, $5, 'fi', $6, 's', 'b', $7, $8, $9)",
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        channel,
        recipient,
        f"{channel}-template",
        status.value,
        error,
        T0 + timedelta(minutes=minute),
    )


async def test_no_deliveries_is_nothing_to_show(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        repo = NotifyRepository(conn)
        assert await repo.delivery_counts() == []
        assert await repo.latest_failures(limit=10) == []


async def test_deliveries_by_channel_and_status_and_the_latest_failures_with_reasons(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for _ in range(3):
            await _delivery(conn, "email", DeliveryStatus.DELIVERED)
        await _delivery(conn, "email", DeliveryStatus.PENDING, error="421 try again later")  # retrying: no failure
        await _delivery(conn, "email", DeliveryStatus.SENDING)
        await _delivery(conn, "email", DeliveryStatus.FAILED, recipient="gone@example.org", minute=1, error="550 gone")
        await _delivery(conn, "email", DeliveryStatus.FAILED, recipient="full@example.org", minute=3, error="552 full")
        await _delivery(conn, "webhook", DeliveryStatus.DELIVERED)
        await _delivery(conn, "webhook", DeliveryStatus.FAILED, recipient="hook-1", minute=2, error="HTTP 410")
        repo = NotifyRepository(conn)
        assert await repo.delivery_counts() == [
            DeliveryCount("email", DeliveryStatus.DELIVERED, 3),
            DeliveryCount("email", DeliveryStatus.FAILED, 2),
            DeliveryCount("email", DeliveryStatus.PENDING, 1),
            DeliveryCount("email", DeliveryStatus.SENDING, 1),
            DeliveryCount("webhook", DeliveryStatus.DELIVERED, 1),
            DeliveryCount("webhook", DeliveryStatus.FAILED, 1),
        ]
        # Newest first, as many as asked for.
        assert await repo.latest_failures(limit=2) == [
            FailedDelivery(T0 + timedelta(minutes=3), "email", "full@example.org", "email-template", "552 full"),
            FailedDelivery(T0 + timedelta(minutes=2), "webhook", "hook-1", "webhook-template", "HTTP 410"),
        ]
        assert len(await repo.latest_failures(limit=10)) == 3

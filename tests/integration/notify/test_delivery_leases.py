"""The delivery claim protocol on the real database: SKIP LOCKED, leases, stale-lease reclaim."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from services.notify.domain import DeliveryStatus
from services.notify.repository import NotifyRepository
from shared.db import apply_migrations, create_pool
from shared.vocabulary import Channel
from tests.support.infra import reset_database

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).parents[3] / "services" / "notify" / "migrations"


async def test_claims_are_exclusive_and_stale_leases_are_reclaimed(infra_env: dict[str, str]) -> None:
    url = infra_env["KIPINA_NOTIFY_DATABASE_URL"]
    await reset_database(url)
    await apply_migrations(url, MIGRATIONS)
    pool = await create_pool(url)
    try:
        case_id, event_id = uuid.uuid4(), uuid.uuid4()
        async with pool.acquire() as conn:
            repo = NotifyRepository(conn)
            fields: dict[str, Any] = {
                "case_id": case_id,
                "source_event_id": event_id,
                "source_event_type": "kipina.case.submitted.v1",
                "correlation_id": "c",
                "channel": Channel.EMAIL,
                "recipient": "a@example.org",
                "recipient_name": "A",
                "language": "en",
                "template": "case_submitted",
                "subject": "s",
                "body": "b",
            }
            assert await repo.record_delivery(**fields)
            assert not await repo.record_delivery(**fields)  # same (event, channel, recipient)

            # Two workers: the second finds nothing while the first holds the row in its claim transaction.
            async with pool.acquire() as other, conn.transaction():
                first = await repo.claim_due_deliveries(limit=10, lease_s=60)
                async with other.transaction():
                    assert await NotifyRepository(other).claim_due_deliveries(limit=10, lease_s=60) == []
            assert len(first) == 1 and first[0].delivery.attempts == 1
            assert first[0].delivery.status == DeliveryStatus.SENDING and not first[0].webhook_active

            # While the lease runs, nobody else takes it.
            assert await repo.claim_due_deliveries(limit=10, lease_s=60) == []

            # The lease expires (the sender died): another worker reclaims it.
            await conn.execute("UPDATE deliveries SET lease_until = now() - interval '1 second'")
            again = await repo.claim_due_deliveries(limit=10, lease_s=60)
            assert len(again) == 1 and again[0].delivery.attempts == 2

            # The slow first sender's late result is ignored; the reclaimer's counts.
            delivery_id = first[0].delivery.id
            assert not await repo.mark_delivered(delivery_id=delivery_id, attempt=1)
            assert not await repo.mark_attempt_failed(
                delivery_id=delivery_id, attempt=1, status=DeliveryStatus.PENDING, retry_in_s=0, error="x"
            )
            assert await repo.mark_delivered(delivery_id=delivery_id, attempt=2)
            assert await conn.fetchval("SELECT status FROM deliveries WHERE id = $1", delivery_id) == "delivered"
    finally:
        await pool.close()

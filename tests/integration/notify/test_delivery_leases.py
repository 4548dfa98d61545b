"""The delivery claim protocol on the real database: SKIP LOCKED, leases, stale-lease reclaim."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from services.notify import repository
from services.notify.domain import DeliveryStatus
from shared.db import apply_migrations, create_pool
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
            fields: dict[str, Any] = {
                "case_id": case_id,
                "source_event_id": event_id,
                "source_event_type": "kipina.case.submitted.v1",
                "correlation_id": "c",
                "channel": "email",
                "recipient": "a@example.org",
                "recipient_name": "A",
                "language": "en",
                "template": "case_submitted",
                "subject": "s",
                "body": "b",
            }
            assert await repository.record_delivery(conn, **fields)
            assert not await repository.record_delivery(conn, **fields)  # same (event, channel, recipient)

            # Two workers: the second finds nothing while the first holds the row in its claim transaction.
            async with pool.acquire() as other, conn.transaction():
                first = await repository.claim_due_deliveries(conn, limit=10, lease_s=60)
                async with other.transaction():
                    assert await repository.claim_due_deliveries(other, limit=10, lease_s=60) == []
            assert len(first) == 1 and first[0]["attempts"] == 1

            # While the lease runs, nobody else takes it.
            assert await repository.claim_due_deliveries(conn, limit=10, lease_s=60) == []

            # The lease expires (the sender died): another worker reclaims it.
            await conn.execute("UPDATE deliveries SET lease_until = now() - interval '1 second'")
            again = await repository.claim_due_deliveries(conn, limit=10, lease_s=60)
            assert len(again) == 1 and again[0]["attempts"] == 2

            # The slow first sender's late result is ignored; the reclaimer's counts.
            delivery_id = first[0]["id"]
            assert not await repository.mark_delivered(conn, delivery_id=delivery_id, attempt=1)
            assert not await repository.mark_attempt_failed(
                conn, delivery_id=delivery_id, attempt=1, status=DeliveryStatus.PENDING, retry_in_s=0, error="x"
            )
            assert await repository.mark_delivered(conn, delivery_id=delivery_id, attempt=2)
            assert await conn.fetchval("SELECT status FROM deliveries WHERE id = $1", delivery_id) == "delivered"
    finally:
        await pool.close()

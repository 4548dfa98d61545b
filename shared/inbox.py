"""The inbox: remembers which events a consumer has processed, in the same transaction as the change."""

from __future__ import annotations

import uuid

from shared.db import Connection
from shared.repository import ReliabilityRepository


async def claim(
    conn: Connection,
    *,
    consumer: str,
    event_id: uuid.UUID,
    event_type: str,
    subject: str | None = None,
    correlation_id: str | None = None,
) -> bool:
    """Record the event as processed by ``consumer``. False means it was processed before: skip it.

    The envelope's subject (the case) and correlation id are kept for the operator dashboard's latest events.
    """
    return await ReliabilityRepository(conn).claim_inbox(
        consumer=consumer, event_id=event_id, event_type=event_type, subject=subject, correlation_id=correlation_id
    )

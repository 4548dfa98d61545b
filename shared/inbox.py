"""The inbox: remembers which events a consumer has processed, in the same transaction as the change."""

from __future__ import annotations

import uuid

from shared.db import Connection


async def claim(conn: Connection, *, consumer: str, event_id: uuid.UUID, event_type: str) -> bool:
    """Record the event as processed by ``consumer``. False means it was processed before: skip it."""
    status = await conn.execute(
        """
        INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
        ON CONFLICT (consumer, event_id) DO NOTHING
        """,
        consumer,
        event_id,
        event_type,
    )
    return status.endswith(" 1")

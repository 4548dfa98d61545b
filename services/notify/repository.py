"""All of notify's SQL (asyncpg). Every function takes a connection first."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.notify.domain import DeliveryStatus, Directory, Stakeholder
from shared.db import Connection
from shared.vocabulary import Language

DELIVERY_COLUMNS = """
    d.id, d.case_id, d.source_event_id, d.source_event_type, d.correlation_id, d.channel, d.recipient,
    d.recipient_name, d.webhook_id, d.language, d.template, d.subject, d.body, d.status, d.attempts,
    d.next_attempt_at, d.lease_until, d.last_error, d.created_at, d.updated_at, d.delivered_at
"""

# --------------------------------------------------------------------------- stakeholder directory


def _person(data: dict[str, Any], user_id: str | None = None) -> Stakeholder:
    return Stakeholder(name=data["name"], email=data["email"], language=Language(data["language"]), user_id=user_id)


def _person_json(person: Stakeholder) -> dict[str, str]:
    return {"name": person.name, "email": person.email, "language": str(person.language)}


async def stored_revision(conn: Connection, *, case_id: uuid.UUID) -> int | None:
    value: int | None = await conn.fetchval("SELECT revision FROM stakeholders WHERE case_id = $1", case_id)
    return value


async def save_directory(conn: Connection, *, directory: Directory) -> None:
    await conn.execute(
        """
        INSERT INTO stakeholders (case_id, call_id, call_title, case_title, revision, submitter_id, submitter,
                                  team, partners)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (case_id) DO UPDATE SET
            call_id = EXCLUDED.call_id, call_title = EXCLUDED.call_title, case_title = EXCLUDED.case_title,
            revision = EXCLUDED.revision, submitter_id = EXCLUDED.submitter_id, submitter = EXCLUDED.submitter,
            team = EXCLUDED.team, partners = EXCLUDED.partners, updated_at = now()
        """,
        directory.case_id,
        directory.call_id,
        directory.call_title,
        directory.case_title,
        directory.revision,
        directory.submitter.user_id or "",
        _person_json(directory.submitter),
        [_person_json(p) for p in directory.team],
        [_person_json(p) for p in directory.partners],
    )


async def get_directory(conn: Connection, *, case_id: uuid.UUID) -> Directory | None:
    row = await conn.fetchrow("SELECT * FROM stakeholders WHERE case_id = $1", case_id)
    if row is None:
        return None
    return Directory(
        case_id=row["case_id"],
        call_id=row["call_id"],
        call_title=row["call_title"],
        case_title=row["case_title"],
        revision=row["revision"],
        submitter=_person(row["submitter"], user_id=row["submitter_id"] or None),
        team=tuple(_person(p) for p in row["team"]),
        partners=tuple(_person(p) for p in row["partners"]),
    )


# --------------------------------------------------------------------------- recording deliveries


async def record_delivery(
    conn: Connection,
    *,
    case_id: uuid.UUID,
    source_event_id: uuid.UUID,
    source_event_type: str,
    correlation_id: str,
    channel: str,
    recipient: str,
    recipient_name: str,
    language: str,
    template: str,
    subject: str,
    body: str,
    webhook_id: uuid.UUID | None = None,
) -> bool:
    """Record a pending delivery; False if this (event, channel, recipient) was recorded before."""
    status = await conn.execute(
        """
        INSERT INTO deliveries (id, case_id, source_event_id, source_event_type, correlation_id, channel, recipient,
                                recipient_name, webhook_id, language, template, subject, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (source_event_id, channel, recipient) DO NOTHING
        """,
        uuid.uuid4(),
        case_id,
        source_event_id,
        source_event_type,
        correlation_id,
        channel,
        recipient,
        recipient_name,
        webhook_id,
        language,
        template,
        subject,
        body,
    )
    return status.endswith(" 1")


async def record_feed_item(
    conn: Connection,
    *,
    user_id: str,
    case_id: uuid.UUID,
    source_event_id: uuid.UUID,
    template: str,
    language: str,
    title: str,
    body: str,
) -> bool:
    status = await conn.execute(
        """
        INSERT INTO feed_items (id, user_id, case_id, source_event_id, template, language, title, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (source_event_id, user_id) DO NOTHING
        """,
        uuid.uuid4(),
        user_id,
        case_id,
        source_event_id,
        template,
        language,
        title,
        body,
    )
    return status.endswith(" 1")


# --------------------------------------------------------------------------- delivery worker


async def claim_due_deliveries(conn: Connection, *, limit: int, lease_s: float) -> list[asyncpg.Record]:
    """Take due deliveries (and stale "sending" leases) and mark them sending; counts the attempt now."""
    return list(
        await conn.fetch(
            """
            WITH due AS (
                SELECT d.id, w.url AS webhook_url, w.secret AS webhook_secret,
                       (w.id IS NOT NULL AND w.deleted_at IS NULL) AS webhook_active
                FROM deliveries d LEFT JOIN webhook_subscriptions w ON w.id = d.webhook_id
                WHERE (d.status = 'pending' AND d.next_attempt_at <= now())
                   OR (d.status = 'sending' AND d.lease_until < now())
                ORDER BY d.next_attempt_at
                LIMIT $1
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE deliveries d
            SET status = 'sending', attempts = d.attempts + 1,
                lease_until = now() + make_interval(secs => $2), updated_at = now()
            FROM due WHERE d.id = due.id
            RETURNING d.*, due.webhook_url, due.webhook_secret, due.webhook_active
            """,
            limit,
            lease_s,
        )
    )


async def mark_delivered(conn: Connection, *, delivery_id: uuid.UUID, attempt: int) -> bool:
    """False if someone else reclaimed the lease meanwhile (then they finalise it)."""
    status = await conn.execute(
        """
        UPDATE deliveries SET status = 'delivered', delivered_at = now(), lease_until = NULL, last_error = NULL,
                              updated_at = now()
        WHERE id = $1 AND status = 'sending' AND attempts = $2
        """,
        delivery_id,
        attempt,
    )
    return status.endswith(" 1")


async def mark_attempt_failed(
    conn: Connection,
    *,
    delivery_id: uuid.UUID,
    attempt: int,
    status: DeliveryStatus,
    retry_in_s: float,
    error: str,
) -> bool:
    result = await conn.execute(
        """
        UPDATE deliveries SET status = $3, next_attempt_at = now() + make_interval(secs => $4),
                              lease_until = NULL, last_error = $5, updated_at = now()
        WHERE id = $1 AND status = 'sending' AND attempts = $2
        """,
        delivery_id,
        attempt,
        str(status),
        retry_in_s,
        error[:2000],
    )
    return result.endswith(" 1")


# --------------------------------------------------------------------------- delivery listings


async def list_deliveries(
    conn: Connection,
    *,
    case_id: uuid.UUID | None,
    status: str | None,
    channel: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    where = (
        "($1::uuid IS NULL OR d.case_id = $1) AND ($2::text IS NULL OR d.status = $2) "
        "AND ($3::text IS NULL OR d.channel = $3)"
    )
    rows = await conn.fetch(
        f"SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE {where} "  # noqa: S608 - constant fragments only
        "ORDER BY d.created_at DESC, d.id LIMIT $4 OFFSET $5",
        case_id,
        status,
        channel,
        limit,
        offset,
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM deliveries d WHERE {where}",  # noqa: S608 - constant fragments only
        case_id,
        status,
        channel,
    )
    return list(rows), int(total or 0)


# --------------------------------------------------------------------------- in-app feed


async def list_feed(
    conn: Connection, *, user_id: str, unread_only: bool, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        """
        SELECT id, case_id, template, language, title, body, created_at, read_at FROM feed_items
        WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)
        ORDER BY created_at DESC, id LIMIT $3 OFFSET $4
        """,
        user_id,
        unread_only,
        limit,
        offset,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM feed_items WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)", user_id, unread_only
    )
    return list(rows), int(total or 0)


async def mark_feed_item_read(conn: Connection, *, user_id: str, item_id: uuid.UUID) -> asyncpg.Record | None:
    """Only the owner's item; reading twice keeps the first read time."""
    return await conn.fetchrow(
        """
        UPDATE feed_items SET read_at = coalesce(read_at, now())
        WHERE id = $1 AND user_id = $2
        RETURNING id, case_id, template, language, title, body, created_at, read_at
        """,
        item_id,
        user_id,
    )


# --------------------------------------------------------------------------- webhook subscriptions


async def create_webhook(
    conn: Connection, *, url: str, secret: str, event_types: list[str], created_by: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO webhook_subscriptions (id, url, secret, event_types, created_by)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id, url, event_types, created_by, created_at
        """,
        uuid.uuid4(),
        url,
        secret,
        event_types,
        created_by,
    )
    assert row is not None
    return row


async def list_webhooks(conn: Connection, *, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        """
        SELECT id, url, event_types, created_by, created_at FROM webhook_subscriptions
        WHERE deleted_at IS NULL ORDER BY created_at DESC, id LIMIT $1 OFFSET $2
        """,
        limit,
        offset,
    )
    total = await conn.fetchval("SELECT count(*) FROM webhook_subscriptions WHERE deleted_at IS NULL")
    return list(rows), int(total or 0)


async def delete_webhook(conn: Connection, *, webhook_id: uuid.UUID) -> bool:
    status = await conn.execute(
        "UPDATE webhook_subscriptions SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL", webhook_id
    )
    return status.endswith(" 1")


async def active_webhooks(conn: Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch("SELECT id, event_types FROM webhook_subscriptions WHERE deleted_at IS NULL ORDER BY id")
    )

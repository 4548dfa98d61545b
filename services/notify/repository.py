"""All of notify's SQL (asyncpg), bound to the connection of one unit of work; typed records out.

Status and channel values are bound as parameters from ``DeliveryStatus`` and ``Channel``, never
written as SQL literals (the migrations' CHECK constraints and index predicates name them).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.notify.domain import (
    Delivery,
    DeliveryStatus,
    Directory,
    DueDelivery,
    FeedItem,
    Stakeholder,
    WebhookActivity,
    WebhookSubscription,
)
from shared.db import Connection
from shared.vocabulary import Channel, Language

_DELIVERY_COLUMNS = ", ".join(
    f"d.{c}"
    for c in (
        "id",
        "case_id",
        "source_event_id",
        "source_event_type",
        "correlation_id",
        "channel",
        "recipient",
        "recipient_name",
        "webhook_id",
        "language",
        "template",
        "subject",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "last_error",
        "created_at",
        "delivered_at",
        "traceparent",
        "tracestate",
    )
)
_FEED_ITEM_COLUMNS = "id, case_id, template, language, title, body, created_at, read_at"
_WEBHOOK_COLUMNS = "id, url, event_types, created_by, created_at"  # never the secret

_PENDING = DeliveryStatus.PENDING.value
_SENDING = DeliveryStatus.SENDING.value
_DELIVERED = DeliveryStatus.DELIVERED.value


# --------------------------------------------------------------------------- row mapping


def _person(data: dict[str, Any], user_id: str | None = None) -> Stakeholder:
    return Stakeholder(name=data["name"], email=data["email"], language=Language(data["language"]), user_id=user_id)


def _person_json(person: Stakeholder) -> dict[str, str]:
    return {"name": person.name, "email": person.email, "language": str(person.language)}


def _directory(row: asyncpg.Record) -> Directory:
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


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        case_id=row["case_id"],
        source_event_id=row["source_event_id"],
        source_event_type=row["source_event_type"],
        correlation_id=row["correlation_id"],
        channel=Channel(row["channel"]),
        recipient=row["recipient"],
        recipient_name=row["recipient_name"],
        webhook_id=row["webhook_id"],
        language=row["language"],
        template=row["template"],
        subject=row["subject"],
        body=row["body"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        traceparent=row["traceparent"],
        tracestate=row["tracestate"],
    )


def _feed_item(row: asyncpg.Record) -> FeedItem:
    return FeedItem(
        id=row["id"],
        case_id=row["case_id"],
        template=row["template"],
        language=row["language"],
        title=row["title"],
        body=row["body"],
        created_at=row["created_at"],
        read_at=row["read_at"],
    )


def _webhook(row: asyncpg.Record) -> WebhookSubscription:
    return WebhookSubscription(
        id=row["id"],
        url=row["url"],
        event_types=tuple(row["event_types"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def _changed_one(status: str) -> bool:
    """asyncpg's command tag ("UPDATE 1", "INSERT 0 1") says one row was written."""
    return status.endswith(" 1")


@dataclass(frozen=True)
class DeliveryCount:
    channel: str
    status: DeliveryStatus
    deliveries: int


@dataclass(frozen=True)
class FailedDelivery:
    failed_at: datetime
    channel: str
    recipient: str
    template: str
    reason: str | None


class NotifyRepository:
    """Notify's tables: the stakeholder directory, deliveries, feed items and webhook subscriptions."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def delivery_counts(self) -> list[DeliveryCount]:
        """Deliveries per channel and status (the operator dashboard)."""
        rows = await self._conn.fetch(
            "SELECT channel, status, count(*) AS deliveries FROM deliveries GROUP BY channel, status"
            " ORDER BY channel, status"
        )
        return [DeliveryCount(r["channel"], DeliveryStatus(r["status"]), int(r["deliveries"])) for r in rows]

    async def webhook_activity(self, *, window_s: float, lookback_s: float) -> WebhookActivity:
        """Webhook deliveries attempted in the last ``window_s`` (their latest attempt then), those whose latest
        attempt failed and their subscriptions, and the last delivered one; all among deliveries created in the
        last ``lookback_s`` (the ``deliveries_listing`` index bounds the read)."""
        row = await self._conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE recent) AS deliveries,
                   count(*) FILTER (WHERE recent AND failing) AS failed,
                   count(DISTINCT webhook_id) FILTER (WHERE recent AND failing) AS failing_subscriptions,
                   max(delivered_at) AS last_success
            FROM (
                SELECT updated_at >= now() - make_interval(secs => $1) AS recent,
                       status IN ($3, $4) AND last_error IS NOT NULL AS failing,
                       webhook_id, delivered_at
                FROM deliveries
                WHERE channel = $5 AND attempts > 0 AND created_at >= now() - make_interval(secs => $2)
            ) AS d
            """,
            window_s,
            lookback_s,
            _PENDING,
            DeliveryStatus.FAILED.value,
            Channel.WEBHOOK.value,
        )
        assert row is not None
        return WebhookActivity(
            deliveries=int(row["deliveries"]),
            failed=int(row["failed"]),
            failing_subscriptions=int(row["failing_subscriptions"]),
            last_success=row["last_success"],
        )

    async def latest_failures(self, *, limit: int) -> list[FailedDelivery]:
        """The deliveries that failed for good, newest first, with the last error as the reason."""
        rows = await self._conn.fetch(
            """
            SELECT updated_at AS failed_at, channel, recipient, template, last_error AS reason FROM deliveries
            WHERE status = $1 ORDER BY updated_at DESC, id LIMIT $2
            """,
            DeliveryStatus.FAILED.value,
            limit,
        )
        return [FailedDelivery(**dict(r)) for r in rows]

    # ----------------------------------------------------------------------- stakeholder directory

    async def stored_revision(self, case_id: uuid.UUID) -> int | None:
        value: int | None = await self._conn.fetchval("SELECT revision FROM stakeholders WHERE case_id = $1", case_id)
        return value

    async def save_directory(self, directory: Directory) -> None:
        await self._conn.execute(
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

    async def get_directory(self, case_id: uuid.UUID) -> Directory | None:
        row = await self._conn.fetchrow("SELECT * FROM stakeholders WHERE case_id = $1", case_id)
        return _directory(row) if row is not None else None

    # ----------------------------------------------------------------------- events awaiting a case's people

    async def await_directory(self, *, case_id: uuid.UUID, event_id: uuid.UUID, event: bytes) -> None:
        """Keep an event whose case's people are not known yet (once, however often it comes)."""
        await self._conn.execute(
            "INSERT INTO awaiting_directory (event_id, case_id, event) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            event_id,
            case_id,
            event,
        )

    async def take_awaiting_directory(self, case_id: uuid.UUID) -> list[bytes]:
        """The case's waiting events in the order they came, removed."""
        rows = await self._conn.fetch("DELETE FROM awaiting_directory WHERE case_id = $1 RETURNING id, event", case_id)
        return [bytes(r["event"]) for r in sorted(rows, key=lambda r: r["id"])]

    # ----------------------------------------------------------------------- recording deliveries

    async def claim_alert_window(self, *, service: str, window_start: datetime) -> bool:
        """True the first time for a service's window: then the operators are told of its dead letters."""
        status = await self._conn.execute(
            "INSERT INTO operator_alerts (service, window_start) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            service,
            window_start,
        )
        return _changed_one(status)

    async def record_delivery(
        self,
        *,
        case_id: uuid.UUID | None,
        source_event_id: uuid.UUID,
        source_event_type: str,
        correlation_id: str,
        channel: Channel,
        recipient: str,
        recipient_name: str,
        language: str,
        template: str,
        subject: str,
        body: str,
        webhook_id: uuid.UUID | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
    ) -> bool:
        """Record a pending delivery; False if this (event, channel, recipient) was recorded before."""
        status = await self._conn.execute(
            """
            INSERT INTO deliveries (id, case_id, source_event_id, source_event_type, correlation_id, channel,
                                    recipient, recipient_name, webhook_id, language, template, subject, body,
                                    status, traceparent, tracestate)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            ON CONFLICT (source_event_id, channel, recipient) DO NOTHING
            """,
            uuid.uuid4(),
            case_id,
            source_event_id,
            source_event_type,
            correlation_id,
            channel.value,
            recipient,
            recipient_name,
            webhook_id,
            language,
            template,
            subject,
            body,
            _PENDING,
            traceparent,
            tracestate,
        )
        return _changed_one(status)

    async def record_feed_item(
        self,
        *,
        user_id: str,
        case_id: uuid.UUID,
        source_event_id: uuid.UUID,
        template: str,
        language: str,
        title: str,
        body: str,
    ) -> bool:
        """Record an in-app notification; False if this (event, user) has one already."""
        status = await self._conn.execute(
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
        return _changed_one(status)

    # ----------------------------------------------------------------------- the delivery worker's claims

    async def claim_due_deliveries(self, *, limit: int, lease_s: float) -> list[DueDelivery]:
        """Take due deliveries (and stale "sending" leases) and mark them sending; counts the attempt now."""
        rows = await self._conn.fetch(
            f"""
            WITH due AS (
                SELECT d.id, w.url AS webhook_url, w.sealed_secret AS webhook_secret,
                       (w.id IS NOT NULL AND w.deleted_at IS NULL) AS webhook_active
                FROM deliveries d LEFT JOIN webhook_subscriptions w ON w.id = d.webhook_id
                WHERE (d.status = $3 AND d.next_attempt_at <= now())
                   OR (d.status = $4 AND d.lease_until < now())
                ORDER BY d.next_attempt_at
                LIMIT $1
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE deliveries d
            SET status = $4, attempts = d.attempts + 1,
                lease_until = now() + make_interval(secs => $2), updated_at = now()
            FROM due WHERE d.id = due.id
            RETURNING {_DELIVERY_COLUMNS}, due.webhook_url, due.webhook_secret, due.webhook_active
            """,  # noqa: S608 - column names are constants, values bound
            limit,
            lease_s,
            _PENDING,
            _SENDING,
        )
        return [
            DueDelivery(
                delivery=_delivery(r),
                webhook_url=r["webhook_url"],
                webhook_secret=r["webhook_secret"],
                webhook_active=bool(r["webhook_active"]),
            )
            for r in rows
        ]

    async def mark_delivered(self, *, delivery_id: uuid.UUID, attempt: int) -> bool:
        """False if someone else reclaimed the lease meanwhile (then they finalise it)."""
        status = await self._conn.execute(
            """
            UPDATE deliveries SET status = $3, delivered_at = now(), lease_until = NULL, last_error = NULL,
                                  updated_at = now()
            WHERE id = $1 AND status = $4 AND attempts = $2
            """,
            delivery_id,
            attempt,
            _DELIVERED,
            _SENDING,
        )
        return _changed_one(status)

    async def mark_attempt_failed(
        self, *, delivery_id: uuid.UUID, attempt: int, status: DeliveryStatus, retry_in_s: float, error: str
    ) -> bool:
        """Record a failed attempt: pending again after ``retry_in_s``, or failed for good. False if the lease
        was reclaimed meanwhile."""
        result = await self._conn.execute(
            """
            UPDATE deliveries SET status = $3, next_attempt_at = now() + make_interval(secs => $4),
                                  lease_until = NULL, last_error = $5, updated_at = now()
            WHERE id = $1 AND status = $6 AND attempts = $2
            """,
            delivery_id,
            attempt,
            status.value,
            retry_in_s,
            error,
            _SENDING,
        )
        return _changed_one(result)

    # ----------------------------------------------------------------------- delivery listings

    async def list_deliveries(
        self,
        *,
        case_id: uuid.UUID | None,
        status: DeliveryStatus | None,
        channel: Channel | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Delivery], int]:
        where = (
            "($1::uuid IS NULL OR d.case_id = $1) AND ($2::text IS NULL OR d.status = $2) "
            "AND ($3::text IS NULL OR d.channel = $3)"
        )
        filters = (case_id, status.value if status else None, channel.value if channel else None)
        rows = await self._conn.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE {where} "  # noqa: S608 - constant fragments only
            "ORDER BY d.created_at DESC, d.id LIMIT $4 OFFSET $5",
            *filters,
            limit,
            offset,
        )
        total = await self._conn.fetchval(
            f"SELECT count(*) FROM deliveries d WHERE {where}",  # noqa: S608 - constant fragments only
            *filters,
        )
        return [_delivery(r) for r in rows], int(total or 0)

    # ----------------------------------------------------------------------- in-app feed

    async def list_feed(
        self, *, user_id: str, unread_only: bool, limit: int, offset: int
    ) -> tuple[list[FeedItem], int]:
        rows = await self._conn.fetch(
            f"""
            SELECT {_FEED_ITEM_COLUMNS} FROM feed_items
            WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)
            ORDER BY created_at DESC, id LIMIT $3 OFFSET $4
            """,  # noqa: S608 - column names are constants
            user_id,
            unread_only,
            limit,
            offset,
        )
        total = await self._conn.fetchval(
            "SELECT count(*) FROM feed_items WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)", user_id, unread_only
        )
        return [_feed_item(r) for r in rows], int(total or 0)

    async def mark_feed_item_read(self, *, user_id: str, item_id: uuid.UUID) -> FeedItem | None:
        """Only the owner's item; reading twice keeps the first read time."""
        row = await self._conn.fetchrow(
            f"""
            UPDATE feed_items SET read_at = coalesce(read_at, now())
            WHERE id = $1 AND user_id = $2
            RETURNING {_FEED_ITEM_COLUMNS}
            """,  # noqa: S608 - column names are constants
            item_id,
            user_id,
        )
        return _feed_item(row) if row is not None else None

    # ----------------------------------------------------------------------- webhook subscriptions

    async def create_webhook(
        self, *, url: str, sealed_secret: str, event_types: Sequence[str], created_by: str
    ) -> WebhookSubscription:
        row = await self._conn.fetchrow(
            f"""
            INSERT INTO webhook_subscriptions (id, url, sealed_secret, event_types, created_by)
            VALUES ($1, $2, $3, $4, $5)
            RETURNING {_WEBHOOK_COLUMNS}
            """,  # noqa: S608 - column names are constants
            uuid.uuid4(),
            url,
            sealed_secret,
            list(event_types),
            created_by,
        )
        assert row is not None
        return _webhook(row)

    async def sealed_secrets(self) -> list[tuple[uuid.UUID, str]]:
        """Every subscription's sealed secret (deleted ones too: their pending deliveries still sign), locked."""
        rows = await self._conn.fetch("SELECT id, sealed_secret FROM webhook_subscriptions ORDER BY id FOR UPDATE")
        return [(r["id"], r["sealed_secret"]) for r in rows]

    async def replace_sealed_secret(self, webhook_id: uuid.UUID, sealed_secret: str) -> None:
        await self._conn.execute(
            "UPDATE webhook_subscriptions SET sealed_secret = $2 WHERE id = $1", webhook_id, sealed_secret
        )

    async def list_webhooks(self, *, limit: int, offset: int) -> tuple[list[WebhookSubscription], int]:
        rows = await self._conn.fetch(
            f"""
            SELECT {_WEBHOOK_COLUMNS} FROM webhook_subscriptions
            WHERE deleted_at IS NULL ORDER BY created_at DESC, id LIMIT $1 OFFSET $2
            """,  # noqa: S608 - column names are constants
            limit,
            offset,
        )
        total = await self._conn.fetchval("SELECT count(*) FROM webhook_subscriptions WHERE deleted_at IS NULL")
        return [_webhook(r) for r in rows], int(total or 0)

    async def delete_webhook(self, webhook_id: uuid.UUID) -> bool:
        """Soft delete: its past deliveries keep their reference. False if there was no live subscription."""
        status = await self._conn.execute(
            "UPDATE webhook_subscriptions SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL", webhook_id
        )
        return _changed_one(status)

    async def active_webhooks(self) -> list[WebhookSubscription]:
        rows = await self._conn.fetch(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhook_subscriptions WHERE deleted_at IS NULL ORDER BY id"  # noqa: S608
        )
        return [_webhook(r) for r in rows]

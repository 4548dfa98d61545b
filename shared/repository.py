"""All SQL on the reliability tables every service database has: inbox, outbox and dead letters.

As in each service's ``repository.py``, rows leave as typed records. The class wraps a
connection (inside a unit of work or the consumer's transaction) or the pool (for single
statements such as a dashboard's counts); asyncpg gives both the same query methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import asyncpg

from shared.db import Connection


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    message_key: str
    payload: bytes
    traceparent: str | None
    tracestate: str | None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    source_topic: str
    source_partition: int
    source_offset: int
    message_key: bytes | None
    payload: bytes
    event_id: str | None
    event_type: str | None
    error: str
    attempts: int
    failed_at: datetime
    replayed_at: datetime | None
    discarded_at: datetime | None = None
    discarded_by: str | None = None
    discard_reason: str | None = None


@dataclass(frozen=True)
class DeadLetterAction:
    id: int
    dead_letter_id: int
    action: str
    actor: str
    succeeded: bool
    outcome: str
    reason: str | None
    acted_at: datetime


@dataclass(frozen=True)
class HandledEvent:
    event_id: uuid.UUID
    event_type: str
    processed_at: datetime
    subject: str | None
    correlation_id: str | None


@dataclass(frozen=True)
class FlowMinute:
    """Events consumed (inbox rows processed) and published (outbox rows published) in one minute."""

    minute: datetime  # the minute's start
    consumed: int
    published: int


@dataclass(frozen=True)
class FlowCount:
    consumed: int
    published: int


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_age_s: float


@dataclass(frozen=True)
class Purged:
    outbox: int
    inbox: int
    dead_letters: int


_DEAD_LETTER_COLUMNS = """
    id, consumer, source_topic, source_partition, source_offset, message_key, payload, event_id, event_type,
    error, attempts, failed_at, replayed_at, discarded_at, discarded_by, discard_reason
"""

# The origin of the dashboard's minute buckets: whole UTC minutes, whatever the session's time zone.
_EPOCH = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"

# Waiting: neither replayed nor discarded.
_WAITING = "replayed_at IS NULL AND discarded_at IS NULL"


def _dead_letter(row: asyncpg.Record) -> DeadLetter:
    values = dict(row)
    values["payload"] = bytes(values["payload"])
    if values["message_key"] is not None:
        values["message_key"] = bytes(values["message_key"])
    return DeadLetter(**values)


def _count(status: str) -> int:
    return int(status.split()[-1])


_CLAIM_INBOX = """
    INSERT INTO inbox (consumer, event_id, event_type, subject, correlation_id) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (consumer, event_id) DO NOTHING
"""
_ENQUEUE = """
    INSERT INTO outbox (event_id, event_type, topic, message_key, payload, traceparent, tracestate)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


@dataclass(frozen=True)
class InboxClaim:
    event_id: uuid.UUID
    event_type: str
    subject: str | None
    correlation_id: str | None


class OutboxEntry(NamedTuple):
    """An outbox row to insert, in the statement's column order."""

    event_id: uuid.UUID
    event_type: str
    topic: str
    message_key: str
    payload: bytes
    traceparent: str | None
    tracestate: str | None


class ReliabilityRepository:
    def __init__(self, db: Connection | asyncpg.Pool) -> None:
        self._db = db

    # ----------------------------------------------------------------------- inbox

    async def claim_inbox(
        self,
        *,
        consumer: str,
        event_id: uuid.UUID,
        event_type: str,
        subject: str | None = None,
        correlation_id: str | None = None,
    ) -> bool:
        """Record the event as processed by ``consumer``; False when it was processed before."""
        status = await self._db.execute(_CLAIM_INBOX, consumer, event_id, event_type, subject, correlation_id)
        return status.endswith(" 1")

    async def claim_inbox_many(self, *, consumer: str, events: Sequence[InboxClaim]) -> set[uuid.UUID]:
        """``claim_inbox`` for several events in one round trip (asyncpg pipelines the statement); the ids that were
        new. An id twice in ``events`` is claimed once."""
        if not events:
            return set()
        rows = await self._db.fetchmany(
            _CLAIM_INBOX + " RETURNING event_id",
            [(consumer, e.event_id, e.event_type, e.subject, e.correlation_id) for e in events],
        )
        return {r["event_id"] for r in rows}

    async def release_inbox_claims(self, *, consumer: str, event_ids: Collection[uuid.UUID]) -> None:
        """Forget claims made in the caller's transaction for events it then did not handle."""
        if event_ids:
            await self._db.execute(
                "DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])", consumer, list(event_ids)
            )

    async def latest_handled(self, *, limit: int) -> list[HandledEvent]:
        """The events this service handled last, newest first (for the operator dashboard)."""
        rows = await self._db.fetch(
            """
            SELECT event_id, event_type, processed_at, subject, correlation_id FROM inbox
            ORDER BY processed_at DESC, event_id LIMIT $1
            """,
            limit,
        )
        return [HandledEvent(**dict(r)) for r in rows]

    async def count_handled(self) -> int:
        return int(await self._db.fetchval("SELECT count(*) FROM inbox"))

    # ----------------------------------------------------------------------- flow (the dashboard's chart)

    async def flow_per_minute(self, *, since: datetime, until: datetime) -> list[FlowMinute]:
        """Per minute from ``since``'s minute up to ``until`` (exclusive): events consumed (the inbox's
        ``processed_at``) and published (the outbox's ``published_at``) in [since, until); a quiet minute is 0.

        Both are bounded by their time column: the inbox by ``inbox_processed_at`` (migration 0004), the outbox by
        the BRIN index ``outbox_published_at`` (migration 0005; docs/pages.md says why BRIN).
        """
        rows = await self._db.fetch(
            f"""
            WITH consumed AS (
                SELECT date_bin('1 minute', processed_at, {_EPOCH}) AS minute, count(*) AS n FROM inbox
                WHERE processed_at >= $1 AND processed_at < $2 GROUP BY 1
            ), published AS (
                SELECT date_bin('1 minute', published_at, {_EPOCH}) AS minute, count(*) AS n FROM outbox
                WHERE published_at >= $1 AND published_at < $2 GROUP BY 1
            )
            SELECT m.minute, coalesce(c.n, 0) AS consumed, coalesce(p.n, 0) AS published
            FROM generate_series(date_bin('1 minute', $1::timestamptz, {_EPOCH}),
                                 $2::timestamptz - interval '1 microsecond', interval '1 minute') AS m (minute)
            LEFT JOIN consumed c USING (minute) LEFT JOIN published p USING (minute)
            ORDER BY m.minute
            """,  # noqa: S608 - a constant
            since,
            until,
        )
        return [FlowMinute(r["minute"], int(r["consumed"]), int(r["published"])) for r in rows]

    async def flow_since(self, since: datetime) -> FlowCount:
        """Events consumed and published from ``since`` on (the dashboard's rate over the last minute)."""
        row = await self._db.fetchrow(
            """
            SELECT (SELECT count(*) FROM inbox WHERE processed_at >= $1) AS consumed,
                   (SELECT count(*) FROM outbox WHERE published_at >= $1) AS published
            """,
            since,
        )
        assert row is not None
        return FlowCount(consumed=int(row["consumed"]), published=int(row["published"]))

    # ----------------------------------------------------------------------- outbox

    async def enqueue(
        self,
        *,
        event_id: uuid.UUID,
        event_type: str,
        topic: str,
        message_key: str,
        payload: bytes,
        traceparent: str | None,
        tracestate: str | None,
    ) -> None:
        await self._db.execute(_ENQUEUE, event_id, event_type, topic, message_key, payload, traceparent, tracestate)

    async def enqueue_many(self, rows: Sequence[OutboxEntry]) -> None:
        """``enqueue`` for several events in one round trip, their ids in the order given."""
        if rows:
            await self._db.executemany(_ENQUEUE, rows)

    async def claim_unpublished(self, *, limit: int) -> list[OutboxRow]:
        """Lock the oldest unpublished rows other relays do not hold (in the caller's transaction)."""
        rows = await self._db.fetch(
            """
            SELECT id, topic, message_key, payload, traceparent, tracestate FROM outbox
            WHERE published_at IS NULL
            ORDER BY id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
            """,
            limit,
        )
        return [
            OutboxRow(r["id"], r["topic"], r["message_key"], bytes(r["payload"]), r["traceparent"], r["tracestate"])
            for r in rows
        ]

    async def first_foreign_pending(self, *, keys: Sequence[str], held: Sequence[int]) -> dict[str, int]:
        """Per key, the oldest pending row older than the newest held one that this batch does not hold."""
        rows = await self._db.fetch(
            """
            SELECT message_key, min(id) AS first_id FROM outbox
            WHERE published_at IS NULL AND message_key = ANY($1::text[]) AND NOT (id = ANY($2::bigint[]))
              AND id < $3
            GROUP BY message_key
            """,
            list(keys),
            list(held),
            max(held),
        )
        return {r["message_key"]: r["first_id"] for r in rows}

    async def mark_published(self, ids: Sequence[int]) -> None:
        await self._db.execute(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])", list(ids)
        )

    async def record_publish_failure(self, ids: Sequence[int], *, error: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])",
            list(ids),
            error[:2000],
        )

    async def backlog(self) -> Backlog:
        """Unpublished rows and the age of the oldest one, for dashboards and metrics."""
        row = await self._db.fetchrow(
            """
            SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
            FROM outbox WHERE published_at IS NULL
            """
        )
        assert row is not None
        return Backlog(pending=int(row["n"]), oldest_age_s=float(row["age"]))

    # ----------------------------------------------------------------------- dead letters

    async def record_dead_letter(
        self,
        *,
        consumer: str,
        source_topic: str,
        source_partition: int,
        source_offset: int,
        message_key: bytes | None,
        payload: bytes,
        headers: Sequence[tuple[str, str]],
        event_id: str | None,
        event_type: str | None,
        error: str,
        attempts: int,
    ) -> int:
        """Store a dead letter (again, when a replay failed too); its id."""
        dead_letter_id = await self._db.fetchval(
            """
            INSERT INTO dead_letters (consumer, source_topic, source_partition, source_offset, message_key, payload,
                                      headers, event_id, event_type, error, attempts)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (consumer, source_topic, source_partition, source_offset) DO UPDATE
                SET error = EXCLUDED.error, attempts = EXCLUDED.attempts, failed_at = now(), replayed_at = NULL,
                    discarded_at = NULL, discarded_by = NULL, discard_reason = NULL
            RETURNING id
            """,
            consumer,
            source_topic,
            source_partition,
            source_offset,
            message_key,
            payload,
            [list(h) for h in headers],
            event_id,
            event_type,
            error,
            attempts,
        )
        return int(dead_letter_id)

    async def dead_letter(self, dead_letter_id: int, *, consumer: str) -> DeadLetter | None:
        row = await self._db.fetchrow(
            f"SELECT {_DEAD_LETTER_COLUMNS} FROM dead_letters WHERE id = $1 AND consumer = $2",  # noqa: S608
            dead_letter_id,
            consumer,
        )
        return _dead_letter(row) if row is not None else None

    async def mark_replayed(self, dead_letter_id: int) -> None:
        await self._db.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = $1", dead_letter_id)

    async def list_dead_letters(self, *, include_replayed: bool, limit: int, offset: int) -> list[DeadLetter]:
        rows = await self._db.fetch(
            f"""
            SELECT {_DEAD_LETTER_COLUMNS} FROM dead_letters WHERE ($3 OR ({_WAITING}))
            ORDER BY id DESC LIMIT $1 OFFSET $2
            """,  # noqa: S608 - fixed column list
            limit,
            offset,
            include_replayed,
        )
        return [_dead_letter(r) for r in rows]

    async def count_dead_letters(self, *, include_replayed: bool) -> int:
        return int(
            await self._db.fetchval(
                f"SELECT count(*) FROM dead_letters WHERE ($1 OR ({_WAITING}))",  # noqa: S608 - fixed condition
                include_replayed,
            )
        )

    async def waiting_dead_letter_ids(self, *, consumer: str, after: int, limit: int) -> list[int]:
        """The waiting dead letters' ids after ``after``, oldest first (replay all)."""
        rows = await self._db.fetch(
            f"""
            SELECT id FROM dead_letters WHERE consumer = $1 AND id > $2 AND {_WAITING} ORDER BY id LIMIT $3
            """,  # noqa: S608 - fixed condition
            consumer,
            after,
            limit,
        )
        return [int(r["id"]) for r in rows]

    async def count_waiting_after(self, *, consumer: str, after: int) -> int:
        return int(
            await self._db.fetchval(
                f"SELECT count(*) FROM dead_letters WHERE consumer = $1 AND id > $2 AND {_WAITING}",  # noqa: S608
                consumer,
                after,
            )
        )

    async def count_pending_dead_letters(self) -> int:
        return int(await self._db.fetchval(f"SELECT count(*) FROM dead_letters WHERE {_WAITING}"))  # noqa: S608

    async def discard_dead_letter(self, dead_letter_id: int, *, consumer: str, actor: str, reason: str) -> bool:
        """Mark a waiting dead letter discarded; False when it is unknown or no longer waiting."""
        status = await self._db.execute(
            f"""
            UPDATE dead_letters SET discarded_at = now(), discarded_by = $3, discard_reason = $4
            WHERE id = $1 AND consumer = $2 AND {_WAITING}
            """,  # noqa: S608 - fixed condition
            dead_letter_id,
            consumer,
            actor,
            reason,
        )
        return status.endswith(" 1")

    async def record_dead_letter_action(
        self, *, dead_letter_id: int, action: str, actor: str, succeeded: bool, outcome: str, reason: str | None
    ) -> int:
        return int(
            await self._db.fetchval(
                """
                INSERT INTO dead_letter_actions (dead_letter_id, action, actor, succeeded, outcome, reason)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                """,
                dead_letter_id,
                action,
                actor,
                succeeded,
                outcome[:2000],
                reason,
            )
        )

    async def dead_letter_actions(self, *, limit: int) -> list[DeadLetterAction]:
        """The latest operator actions on dead letters, newest first."""
        rows = await self._db.fetch(
            """
            SELECT id, dead_letter_id, action, actor, succeeded, outcome, reason, acted_at
            FROM dead_letter_actions ORDER BY id DESC LIMIT $1
            """,
            limit,
        )
        return [DeadLetterAction(**dict(r)) for r in rows]

    async def dead_letter_action(self, action_id: int) -> DeadLetterAction | None:
        row = await self._db.fetchrow(
            """
            SELECT id, dead_letter_id, action, actor, succeeded, outcome, reason, acted_at
            FROM dead_letter_actions WHERE id = $1
            """,
            action_id,
        )
        return DeadLetterAction(**dict(row)) if row is not None else None

    # ----------------------------------------------------------------------- retention (shared/housekeeping.py)

    async def purge(
        self, *, outbox_retention_hours: float, inbox_retention_hours: float, dead_letter_retention_hours: float
    ) -> Purged:
        outbox = await self._db.execute(
            "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)",
            outbox_retention_hours * 3600,
        )
        inbox = await self._db.execute(
            "DELETE FROM inbox WHERE processed_at < now() - make_interval(secs => $1)", inbox_retention_hours * 3600
        )
        dead = await self._db.execute(
            """
            DELETE FROM dead_letters
            WHERE coalesce(replayed_at, discarded_at) < now() - make_interval(secs => $1)
            """,
            dead_letter_retention_hours * 3600,
        )
        return Purged(outbox=_count(outbox), inbox=_count(inbox), dead_letters=_count(dead))

"""All of intake's SQL. Every function takes the connection first, so callers choose the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.intake.domain import Call, CaseProgress, CaseStatus, StoredCase, TimelineEntry
from shared.db import Connection
from shared.events import CaseSnapshot
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language


class DuplicateTitle(Exception):
    """Another live case of the same call has a near-identical title (the unique index said so)."""


class DuplicateIdempotencyKey(Exception):
    """A concurrent request with the same Idempotency-Key won the race."""


# --------------------------------------------------------------------------- calls


def _call(row: asyncpg.Record) -> Call:
    return Call(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        categories=[Category(c) for c in row["categories"]],
        languages=[Language(lang) for lang in row["languages"]],
        reviewers_per_iteration=row["reviewers_per_iteration"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


async def insert_call(
    conn: Connection,
    *,
    call_id: uuid.UUID,
    title: str,
    description: str,
    opens_at: datetime,
    closes_at: datetime,
    categories: list[Category],
    languages: list[Language],
    reviewers_per_iteration: int,
    created_by: str,
) -> Call:
    row = await conn.fetchrow(
        """
        INSERT INTO calls (id, title, description, opens_at, closes_at, categories, languages,
                           reviewers_per_iteration, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING *
        """,
        call_id,
        title,
        description,
        opens_at,
        closes_at,
        [c.value for c in categories],
        [lang.value for lang in languages],
        reviewers_per_iteration,
        created_by,
    )
    assert row is not None
    return _call(row)


async def get_call(conn: Connection, *, call_id: uuid.UUID) -> Call | None:
    row = await conn.fetchrow("SELECT * FROM calls WHERE id = $1", call_id)
    return _call(row) if row is not None else None


async def list_calls(conn: Connection, *, open_at: datetime | None, limit: int, offset: int) -> tuple[list[Call], int]:
    """Calls, newest first; with ``open_at``, only those open at that moment."""
    where = "WHERE ($1::timestamptz IS NULL OR (opens_at <= $1 AND closes_at > $1))"
    total = await conn.fetchval(f"SELECT count(*) FROM calls {where}", open_at)  # noqa: S608 - constant SQL
    rows = await conn.fetch(
        f"SELECT * FROM calls {where} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",  # noqa: S608
        open_at,
        limit,
        offset,
    )
    return [_call(r) for r in rows], int(total)


# --------------------------------------------------------------------------- cases


def _case(row: asyncpg.Record) -> StoredCase:
    return StoredCase(
        snapshot=CaseSnapshot.model_validate(row["content"]),
        progress=CaseProgress(
            status=CaseStatus(row["status"]),
            stage=IsoStage(row["stage"]),
            iteration=row["iteration"],
            outcome=AwardOutcome(row["outcome"]) if row["outcome"] else None,
            feedback=row["feedback"],
        ),
        request_fingerprint=row["request_fingerprint"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def insert_case(
    conn: Connection,
    *,
    snapshot: CaseSnapshot,
    title_key: str,
    progress: CaseProgress,
    idempotency_key: str | None,
    request_fingerprint: str | None,
) -> StoredCase:
    """Insert a new case. Raises ``DuplicateTitle`` or ``DuplicateIdempotencyKey`` on a unique conflict.

    Runs in a savepoint so that a conflict leaves the caller's transaction usable.
    """
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                """
                INSERT INTO cases (id, call_id, submitter_id, title_key, content, revision, status, stage, iteration,
                                   idempotency_key, request_fingerprint)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                RETURNING *
                """,
                snapshot.case_id,
                snapshot.call_id,
                snapshot.submitter_id,
                title_key,
                snapshot.model_dump(mode="json"),
                snapshot.revision,
                progress.status.value,
                progress.stage.value,
                progress.iteration,
                idempotency_key,
                request_fingerprint,
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "cases_idempotency":
            raise DuplicateIdempotencyKey from exc
        if exc.constraint_name == "cases_call_title":
            raise DuplicateTitle from exc
        raise
    assert row is not None
    return _case(row)


async def update_case_content(
    conn: Connection, *, snapshot: CaseSnapshot, title_key: str, status: CaseStatus
) -> StoredCase:
    """Store a new revision. Raises ``DuplicateTitle`` when the new title collides with another case."""
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                """
                UPDATE cases SET content = $2, title_key = $3, revision = $4, status = $5, updated_at = now()
                WHERE id = $1
                RETURNING *
                """,
                snapshot.case_id,
                snapshot.model_dump(mode="json"),
                title_key,
                snapshot.revision,
                status.value,
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "cases_call_title":
            raise DuplicateTitle from exc
        raise
    assert row is not None
    return _case(row)


async def save_progress(conn: Connection, *, case_id: uuid.UUID, progress: CaseProgress) -> StoredCase:
    row = await conn.fetchrow(
        """
        UPDATE cases SET status = $2, stage = $3, iteration = $4, outcome = $5, feedback = $6, updated_at = now()
        WHERE id = $1
        RETURNING *
        """,
        case_id,
        progress.status.value,
        progress.stage.value,
        progress.iteration,
        progress.outcome.value if progress.outcome else None,
        progress.feedback,
    )
    assert row is not None
    return _case(row)


async def get_case(conn: Connection, *, case_id: uuid.UUID, for_update: bool = False) -> StoredCase | None:
    if for_update:
        row = await conn.fetchrow("SELECT * FROM cases WHERE id = $1 FOR UPDATE", case_id)
    else:
        row = await conn.fetchrow("SELECT * FROM cases WHERE id = $1", case_id)
    return _case(row) if row is not None else None


async def find_by_idempotency_key(conn: Connection, *, submitter_id: str, key: str) -> StoredCase | None:
    row = await conn.fetchrow("SELECT * FROM cases WHERE submitter_id = $1 AND idempotency_key = $2", submitter_id, key)
    return _case(row) if row is not None else None


async def find_by_title(
    conn: Connection, *, call_id: uuid.UUID, title_key: str, excluding: uuid.UUID | None = None
) -> StoredCase | None:
    """The live (not withdrawn) case of a call with this normalised title, if any."""
    row = await conn.fetchrow(
        """
        SELECT * FROM cases
        WHERE call_id = $1 AND title_key = $2 AND status <> 'withdrawn' AND ($3::uuid IS NULL OR id <> $3)
        """,
        call_id,
        title_key,
        excluding,
    )
    return _case(row) if row is not None else None


async def list_cases(
    conn: Connection,
    *,
    submitter_id: str | None,
    call_id: uuid.UUID | None,
    status: CaseStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[StoredCase], int]:
    """Cases, newest first; ``submitter_id`` None means everyone's (operators)."""
    where = """
        WHERE ($1::text IS NULL OR submitter_id = $1)
          AND ($2::uuid IS NULL OR call_id = $2)
          AND ($3::text IS NULL OR status = $3)
    """
    args: list[Any] = [submitter_id, call_id, status.value if status else None]
    total = await conn.fetchval(f"SELECT count(*) FROM cases {where}", *args)  # noqa: S608 - constant SQL
    rows = await conn.fetch(
        f"SELECT * FROM cases {where} ORDER BY created_at DESC, id LIMIT $4 OFFSET $5",  # noqa: S608
        *args,
        limit,
        offset,
    )
    return [_case(r) for r in rows], int(total)


# --------------------------------------------------------------------------- timeline


async def add_timeline_entry(
    conn: Connection,
    *,
    case_id: uuid.UUID,
    entry: TimelineEntry,
    at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO case_timeline (case_id, at, kind, summary, iteration, details, event_id)
        VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7)
        ON CONFLICT (event_id) DO NOTHING
        """,
        case_id,
        at,
        entry.kind,
        entry.summary,
        entry.iteration,
        entry.details,
        event_id,
    )


async def timeline(conn: Connection, *, case_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT at, kind, summary, iteration, details FROM case_timeline
        WHERE case_id = $1 ORDER BY at, id
        """,
        case_id,
    )
    return [dict(r) for r in rows]

"""All of review's SQL. Every function takes a connection first and runs in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from services.review.domain import CaseStatus, Decision, IterationStatus, TaskStatus
from shared.db import Connection
from shared.events import CaseSnapshot, FeedbackItem
from shared.vocabulary import IsoStage

_LEASE_EXPIRED = "(t.status = 'claimed' AND t.lease_expires_at < now())"
# Tasks a reviewer may take: queued, or claimed by someone whose lease ran out.
_AVAILABLE = f"(t.status = 'queued' OR {_LEASE_EXPIRED})"
_QUEUE_ORDER = "t.due_at, t.created_at, t.slot"

_TASK_COLUMNS = f"""
    t.task_id, t.case_id, t.iteration, t.slot, t.status, t.due_at, t.reviewer_id, t.claimed_at,
    t.lease_expires_at, {_LEASE_EXPIRED} AS lease_expired,
    t.decision, t.comment, t.feedback, t.decided_at, t.created_at,
    i.stage,
    c.call_id, c.call_title, c.title, c.summary, c.category, c.language, c.organisation_id,
    c.organisation_name, c.reviewers_per_iteration, c.details, c.status AS case_status,
    c.revision AS case_revision
"""
_TASK_FROM = """
    FROM review_tasks t
    JOIN iterations i ON i.case_id = t.case_id AND i.iteration = t.iteration
    JOIN cases c ON c.case_id = t.case_id
"""


def _details(snapshot: CaseSnapshot) -> dict[str, Any]:
    """What reviewers read beyond the columns; contact details are left out on purpose (not needed, personal)."""
    return {
        "problem": snapshot.problem,
        "solution": snapshot.solution,
        "oecd_principles": list(snapshot.oecd_principles),
        "drivers": list(snapshot.drivers),
        "obstacles": list(snapshot.obstacles),
        "team_size": len(snapshot.team),
        "partner_count": len(snapshot.partners),
    }


# --------------------------------------------------------------------------- cases


async def get_case(conn: Connection, *, case_id: uuid.UUID, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM cases WHERE case_id = $1{lock}", case_id)  # noqa: S608 - fixed text


async def insert_case(conn: Connection, *, snapshot: CaseSnapshot, status: CaseStatus) -> bool:
    """Store a new case; False if it was already known (a second submission of the same case)."""
    result = await conn.execute(
        """
        INSERT INTO cases (case_id, call_id, call_title, title, summary, category, language, organisation_id,
                           organisation_name, submitter_id, stage, revision, reviewers_per_iteration, details, status)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (case_id) DO NOTHING
        """,
        snapshot.case_id,
        snapshot.call_id,
        snapshot.call_title,
        snapshot.title,
        snapshot.summary,
        str(snapshot.category),
        str(snapshot.language),
        snapshot.organisation.id,
        snapshot.organisation.name,
        snapshot.submitter_id,
        str(snapshot.iso_stage),
        snapshot.revision,
        snapshot.reviewers_per_iteration,
        _details(snapshot),
        str(status),
    )
    return result.endswith(" 1")


async def update_case_snapshot(conn: Connection, *, snapshot: CaseSnapshot, stage: IsoStage) -> None:
    await conn.execute(
        """
        UPDATE cases SET call_title = $2, title = $3, summary = $4, category = $5, language = $6,
                         organisation_id = $7, organisation_name = $8, stage = $9, revision = $10,
                         reviewers_per_iteration = $11, details = $12, updated_at = now()
        WHERE case_id = $1
        """,
        snapshot.case_id,
        snapshot.call_title,
        snapshot.title,
        snapshot.summary,
        str(snapshot.category),
        str(snapshot.language),
        snapshot.organisation.id,
        snapshot.organisation.name,
        str(stage),
        snapshot.revision,
        snapshot.reviewers_per_iteration,
        _details(snapshot),
    )


async def set_case_status(
    conn: Connection, *, case_id: uuid.UUID, status: CaseStatus, stage: IsoStage | None = None
) -> None:
    await conn.execute(
        "UPDATE cases SET status = $2, stage = coalesce($3, stage), updated_at = now() WHERE case_id = $1",
        case_id,
        str(status),
        str(stage) if stage is not None else None,
    )


# --------------------------------------------------------------------------- iterations


async def open_iteration(
    conn: Connection,
    *,
    case_id: uuid.UUID,
    stage: IsoStage,
    revision: int,
    reviewers: int,
    timebox: timedelta,
) -> asyncpg.Record:
    """Open the case's next iteration with one queued task per reviewer; returns the iteration row."""
    iteration = await conn.fetchrow(
        """
        WITH numbered AS (
            UPDATE cases SET current_iteration = current_iteration + 1, updated_at = now()
            WHERE case_id = $1 RETURNING current_iteration
        )
        INSERT INTO iterations (case_id, iteration, stage, revision, status, due_at)
        SELECT $1, current_iteration, $2, $3, $4, now() + $5::interval FROM numbered
        RETURNING *
        """,
        case_id,
        str(stage),
        revision,
        str(IterationStatus.OPEN),
        timebox,
    )
    assert iteration is not None, "open_iteration on an unknown case"
    await conn.executemany(
        """
        INSERT INTO review_tasks (task_id, case_id, iteration, slot, status, due_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        [
            (uuid.uuid4(), case_id, iteration["iteration"], slot, str(TaskStatus.QUEUED), iteration["due_at"])
            for slot in range(1, reviewers + 1)
        ],
    )
    return iteration


async def close_iteration(
    conn: Connection, *, case_id: uuid.UUID, iteration: int, status: IterationStatus, outcome: Decision | None
) -> None:
    await conn.execute(
        """
        UPDATE iterations SET status = $3, outcome = $4, closed_at = now()
        WHERE case_id = $1 AND iteration = $2
        """,
        case_id,
        iteration,
        str(status),
        str(outcome) if outcome is not None else None,
    )


async def cancel_open_work(conn: Connection, *, case_id: uuid.UUID) -> int:
    """Cancel the case's open iterations and their undecided tasks; returns the tasks cancelled."""
    result = await conn.execute(
        "UPDATE review_tasks SET status = $2, lease_expires_at = NULL WHERE case_id = $1 AND status IN ($3, $4)",
        case_id,
        str(TaskStatus.CANCELLED),
        str(TaskStatus.QUEUED),
        str(TaskStatus.CLAIMED),
    )
    await conn.execute(
        "UPDATE iterations SET status = $2, closed_at = now() WHERE case_id = $1 AND status = $3",
        case_id,
        str(IterationStatus.CANCELLED),
        str(IterationStatus.OPEN),
    )
    return int(result.split()[-1])


async def count_iterations(conn: Connection, *, case_id: uuid.UUID) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM iterations WHERE case_id = $1", case_id))


async def list_iterations(conn: Connection, *, case_id: uuid.UUID, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM iterations WHERE case_id = $1 ORDER BY iteration LIMIT $2 OFFSET $3", case_id, limit, offset
    )


async def tasks_of_iterations(conn: Connection, *, case_id: uuid.UUID, iterations: list[int]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT task_id, iteration, slot, status, reviewer_id, claimed_at, lease_expires_at, decision, comment,
               feedback, decided_at
        FROM review_tasks WHERE case_id = $1 AND iteration = ANY($2::int[])
        ORDER BY iteration, slot
        """,
        case_id,
        iterations,
    )


async def claim_overdue_iteration(conn: Connection) -> asyncpg.Record | None:
    """Lock one open, overdue, not yet escalated iteration (other instances skip it)."""
    return await conn.fetchrow(
        """
        SELECT i.case_id, i.iteration, i.due_at, c.call_id
        FROM iterations i JOIN cases c ON c.case_id = i.case_id
        WHERE i.status = 'open' AND i.escalated_at IS NULL AND i.due_at < now()
        ORDER BY i.due_at
        LIMIT 1
        FOR UPDATE OF i SKIP LOCKED
        """
    )


async def mark_escalated(conn: Connection, *, case_id: uuid.UUID, iteration: int) -> None:
    await conn.execute(
        "UPDATE iterations SET escalated_at = now() WHERE case_id = $1 AND iteration = $2", case_id, iteration
    )


# --------------------------------------------------------------------------- tasks


async def claim_next_task(
    conn: Connection, *, reviewer_id: str, reviewer_org: str, lease: timedelta
) -> asyncpg.Record | None:
    """Take the available task due first, skipping rows other claimers hold; returns it with its case.

    Never a case of the reviewer's own organisation, and never a second slot of an iteration the reviewer
    already holds or decided (four-eyes). The unique index on (case, iteration, reviewer) backs the latter
    up against two concurrent claims by the same reviewer.
    """
    picked = await conn.fetchrow(
        f"""
        SELECT t.task_id {_TASK_FROM}
        WHERE {_AVAILABLE}
          AND i.status = 'open' AND c.status = 'in_review'
          AND c.organisation_id <> $1
          AND NOT EXISTS (
              SELECT 1 FROM review_tasks o
              WHERE o.case_id = t.case_id AND o.iteration = t.iteration AND o.task_id <> t.task_id
                AND o.reviewer_id = $2
          )
        ORDER BY {_QUEUE_ORDER}
        LIMIT 1
        FOR UPDATE OF t SKIP LOCKED
        """,  # noqa: S608 - only fixed SQL text is interpolated
        reviewer_org,
        reviewer_id,
    )
    if picked is None:
        return None
    await conn.execute(
        """
        UPDATE review_tasks SET status = 'claimed', reviewer_id = $2, reviewer_org = $3, claimed_at = now(),
                                lease_expires_at = now() + $4::interval
        WHERE task_id = $1
        """,
        picked["task_id"],
        reviewer_id,
        reviewer_org,
        lease,
    )
    return await get_task(conn, task_id=picked["task_id"])


async def get_task(conn: Connection, *, task_id: uuid.UUID, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF t" if for_update else ""
    return await conn.fetchrow(f"SELECT {_TASK_COLUMNS} {_TASK_FROM} WHERE t.task_id = $1{lock}", task_id)


async def record_decision(
    conn: Connection, *, task_id: uuid.UUID, decision: Decision, comment: str, feedback: list[FeedbackItem]
) -> None:
    await conn.execute(
        """
        UPDATE review_tasks SET status = 'decided', decision = $2, comment = $3, feedback = $4, decided_at = now(),
                                lease_expires_at = NULL
        WHERE task_id = $1
        """,
        task_id,
        str(decision),
        comment,
        [f.model_dump(mode="json") for f in feedback],
    )


async def release_task(conn: Connection, *, task_id: uuid.UUID) -> None:
    await conn.execute(
        """
        UPDATE review_tasks SET status = 'queued', reviewer_id = NULL, reviewer_org = NULL, claimed_at = NULL,
                                lease_expires_at = NULL
        WHERE task_id = $1
        """,
        task_id,
    )


async def list_tasks(
    conn: Connection, *, status: TaskStatus | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    status_text = str(status) if status is not None else None
    rows = await conn.fetch(
        f"""
        SELECT {_TASK_COLUMNS} {_TASK_FROM}
        WHERE ($1::text IS NULL OR t.status = $1)
        ORDER BY {_QUEUE_ORDER}
        LIMIT $2 OFFSET $3
        """,
        status_text,
        limit,
        offset,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM review_tasks WHERE ($1::text IS NULL OR status = $1)", status_text
    )
    return list(rows), int(total)

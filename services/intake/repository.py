"""All of intake's SQL (asyncpg), bound to the connection of one unit of work; typed records out.

Status values are bound as parameters from ``CaseStatus``, never written as SQL literals (the partial
title index in the migration is the one exception).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.intake.domain import (
    FUNNEL_STAGE,
    Call,
    CaseProgress,
    CaseStatus,
    FeedbackPoint,
    FunnelStage,
    NewCall,
    StoredCase,
    TimelineEntry,
    TimelineItem,
    TimelineKind,
)
from shared.db import Connection
from shared.events import CaseSnapshot, Criterion
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language

Row = asyncpg.Record | Mapping[str, Any]

_CALL_COLUMNS = ", ".join(
    (
        "id",
        "title",
        "description",
        "opens_at",
        "closes_at",
        "categories",
        "languages",
        "reviewers_per_iteration",
        "criteria",
        "revision",
        "created_by",
        "created_at",
        "updated_at",
    )
)
_CASE_COLUMNS = ", ".join(
    (
        "content",
        "status",
        "stage",
        "iteration",
        "outcome",
        "feedback",
        "request_fingerprint",
        "created_at",
        "updated_at",
    )
)
_WITHDRAWN = CaseStatus.WITHDRAWN.value
_PROGRESS_COLUMNS = "status, stage, iteration, outcome, feedback"

# A case's progress and, when its status changes, the status history's entry (as _status_entered words it), in one
# statement; the subquery reads the history as it was before the statement. bench/floor_events.py sends it too.
STORE_PROGRESS = """
    WITH moved AS (
        UPDATE cases SET status = $2, stage = $3, iteration = $4, outcome = $5, feedback = $6, updated_at = now()
        WHERE id = $1
        RETURNING id
    )
    INSERT INTO case_status_history (case_id, status, at)
    SELECT id, $2::text, coalesce($7::timestamptz, now()) FROM moved
    WHERE $2::text IS DISTINCT FROM
        (SELECT status FROM case_status_history WHERE case_id = $1 ORDER BY id DESC LIMIT 1)
"""

# The unique index of the migration whose conflict a revision's update meets (a new case's insert does nothing on a
# conflict instead: INSERT_CASE).
_TITLE_INDEX = "cases_call_organisation_title"


# A new case, its first status and its first timeline entry, all at the case's creation: one round trip. A case
# that a unique index refuses inserts nothing and returns no row (ON CONFLICT DO NOTHING, which waits for a
# concurrent insert of the same key or title to commit or roll back, as the index's check does). A new case has no
# history yet, so its first status is recorded unconditionally (_status_entered's rule holds trivially).
# bench/floor_http.py sends this very statement.
INSERT_CASE = """
    WITH inserted AS (
        INSERT INTO cases (id, call_id, submitter_id, organisation_id, title_key, content, revision,
                           status, stage, iteration, idempotency_key, request_fingerprint)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT DO NOTHING
        RETURNING id, status, created_at, updated_at
    ), status_entered AS (
        INSERT INTO case_status_history (case_id, status, at)
        SELECT id, status, created_at FROM inserted
    ), first_entry AS (
        INSERT INTO case_timeline (case_id, at, kind, summary, iteration, details)
        SELECT id, created_at, $13::text, $14::text, $15::integer, $16::jsonb FROM inserted
    )
    SELECT created_at, updated_at FROM inserted
"""


@dataclass(frozen=True)
class FunnelRow:
    """How many of a call's cases are in one status (the operator dashboard's funnel)."""

    call_id: uuid.UUID
    call_title: str
    status: CaseStatus
    cases: int


@dataclass(frozen=True)
class StageTime:
    """How long a call's cases spent in one funnel stage (the operator dashboard's time in each stage).

    ``moved_on`` cases have left the stage, after ``median`` (of them) and at most ``longest``; ``waiting`` cases
    are in it still, the longest of them for ``longest_waiting`` so far. A duration is None when no case counts.
    """

    call_id: uuid.UUID
    call_title: str
    stage: FunnelStage
    moved_on: int
    median: timedelta | None
    longest: timedelta | None
    waiting: int
    longest_waiting: timedelta | None


class DuplicateTitle(Exception):
    """Another live case of the same call and organisation has a near-identical title (the unique index said so)."""


class DuplicateIdempotencyKey(Exception):
    """A concurrent request with the same Idempotency-Key won the race."""


# --------------------------------------------------------------------------- row mapping


def _call(row: Row) -> Call:
    return Call(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        categories=[Category(c) for c in row["categories"]],
        languages=[Language(lang) for lang in row["languages"]],
        reviewers_per_iteration=row["reviewers_per_iteration"],
        criteria=tuple(Criterion.model_validate(c) for c in row["criteria"]),
        revision=row["revision"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _criteria_json(criteria: Sequence[Criterion]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in criteria]


def _progress_values(progress: CaseProgress) -> tuple[str, str, int, str | None, str | None]:
    """A progress as the cases table's status, stage, iteration, outcome and feedback columns take it."""
    return (
        progress.status.value,
        progress.stage.value,
        progress.iteration,
        progress.outcome.value if progress.outcome else None,
        progress.feedback,
    )


def _progress(row: Row) -> CaseProgress:
    return CaseProgress(
        status=CaseStatus(row["status"]),
        stage=IsoStage(row["stage"]),
        iteration=row["iteration"],
        outcome=AwardOutcome(row["outcome"]) if row["outcome"] else None,
        feedback=row["feedback"],
    )


def _case(row: Row) -> StoredCase:
    return StoredCase(
        snapshot=CaseSnapshot.model_validate(row["content"]),
        progress=_progress(row),
        request_fingerprint=row["request_fingerprint"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _timeline_item(row: Row) -> TimelineItem:
    return TimelineItem(
        at=row["at"],
        kind=TimelineKind(row["kind"]),
        summary=row["summary"],
        iteration=row["iteration"],
        details=row["details"],
    )


class IntakeRepository:
    """Intake's tables: calls, cases (each revision's content as a CaseSnapshot document) and their timelines."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # ----------------------------------------------------------------------- calls

    async def insert_call(self, *, call_id: uuid.UUID, call: NewCall, created_by: str) -> Call:
        row = await self._conn.fetchrow(
            f"""
            INSERT INTO calls (id, title, description, opens_at, closes_at, categories, languages,
                               reviewers_per_iteration, criteria, created_by, announced)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true)
            RETURNING {_CALL_COLUMNS}
            """,  # noqa: S608 - constant column list, values bound
            call_id,
            call.title,
            call.description,
            call.opens_at,
            call.closes_at,
            [c.value for c in call.categories],
            [lang.value for lang in call.languages],
            call.reviewers_per_iteration,
            _criteria_json(call.criteria),
            created_by,
        )
        assert row is not None
        return _call(row)

    async def update_call(self, call: Call) -> Call:
        """Store a changed call at its new revision, which the caller announces (and holds the row lock)."""
        row = await self._conn.fetchrow(
            f"""
            UPDATE calls SET description = $2, opens_at = $3, closes_at = $4, categories = $5, languages = $6,
                             criteria = $7, revision = $8, announced = true, updated_at = now()
            WHERE id = $1
            RETURNING {_CALL_COLUMNS}
            """,  # noqa: S608 - constant column list, values bound
            call.id,
            call.description,
            call.opens_at,
            call.closes_at,
            [c.value for c in call.categories],
            [lang.value for lang in call.languages],
            _criteria_json(call.criteria),
            call.revision,
        )
        assert row is not None
        return _call(row)

    async def get_call(self, call_id: uuid.UUID, *, for_update: bool = False) -> Call | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(f"SELECT {_CALL_COLUMNS} FROM calls WHERE id = $1{lock}", call_id)  # noqa: S608
        return _call(row) if row is not None else None

    async def claim_unannounced_call(self) -> Call | None:
        """Lock one call that was never announced (created before intake announced calls); other instances skip it."""
        row = await self._conn.fetchrow(
            f"""
            SELECT {_CALL_COLUMNS} FROM calls WHERE NOT announced
            ORDER BY created_at, id LIMIT 1
            FOR UPDATE SKIP LOCKED
            """  # noqa: S608 - constant column list
        )
        return _call(row) if row is not None else None

    async def mark_announced(self, call_id: uuid.UUID) -> None:
        await self._conn.execute("UPDATE calls SET announced = true WHERE id = $1", call_id)

    async def list_calls(self, *, open_at: datetime | None, limit: int, offset: int) -> tuple[list[Call], int]:
        """Calls, newest first; with ``open_at``, only those open at that moment."""
        where = "WHERE ($1::timestamptz IS NULL OR (opens_at <= $1 AND closes_at > $1))"
        total = await self._conn.fetchval(f"SELECT count(*) FROM calls {where}", open_at)  # noqa: S608
        rows = await self._conn.fetch(
            f"SELECT {_CALL_COLUMNS} FROM calls {where} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",  # noqa: S608
            open_at,
            limit,
            offset,
        )
        return [_call(r) for r in rows], int(total)

    async def funnel(self) -> list[FunnelRow]:
        """Cases per call and status: newest calls first, statuses in the workflow's order."""
        rows = await self._conn.fetch(
            """
            SELECT c.id AS call_id, c.title AS call_title, k.status, count(*) AS cases
            FROM cases k JOIN calls c ON c.id = k.call_id
            GROUP BY c.id, c.title, k.status, c.created_at
            ORDER BY c.created_at DESC, c.id
            """
        )
        funnel = [FunnelRow(r["call_id"], r["call_title"], CaseStatus(r["status"]), int(r["cases"])) for r in rows]
        call_order = {call_id: i for i, call_id in reversed(list(enumerate(f.call_id for f in funnel)))}
        status_order = list(CaseStatus)
        return sorted(funnel, key=lambda f: (call_order[f.call_id], status_order.index(f.status)))

    async def time_in_stage(self, *, stages: Collection[FunnelStage], now: datetime) -> list[StageTime]:
        """Per call and funnel stage of ``stages``, how long cases stayed in it (newest calls first, the stages in
        the funnel's order), from the status history: a case's stay in a stage runs from the first status of the
        stage it entered to the next status of another stage (a negative stay, the clocks of two services
        disagreeing, counts as none). Stays still going are measured up to ``now``."""
        statuses = list(FUNNEL_STAGE)
        rows = await self._conn.fetch(
            """
            WITH stage_of AS (
                SELECT * FROM unnest($1::text[], $2::text[]) AS m (status, stage)
            ), entered AS (
                SELECT h.id, h.case_id, h.at, m.stage,
                       lag(m.stage) OVER (PARTITION BY h.case_id ORDER BY h.id) AS stage_before
                FROM case_status_history h JOIN stage_of m ON m.status = h.status
            ), stays AS (
                SELECT case_id, stage, at AS entered_at,
                       lead(at) OVER (PARTITION BY case_id ORDER BY id) AS left_at
                FROM entered WHERE stage_before IS DISTINCT FROM stage
            ), measured AS (
                SELECT case_id, stage, left_at IS NOT NULL AS left_stage,
                       greatest(coalesce(left_at, $4) - entered_at, interval '0') AS stay
                FROM stays WHERE stage = ANY($3::text[])
            )
            SELECT c.id AS call_id, c.title AS call_title, s.stage,
                   count(*) FILTER (WHERE s.left_stage) AS moved_on,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY s.stay) FILTER (WHERE s.left_stage) AS median,
                   max(s.stay) FILTER (WHERE s.left_stage) AS longest,
                   count(*) FILTER (WHERE NOT s.left_stage) AS waiting,
                   max(s.stay) FILTER (WHERE NOT s.left_stage) AS longest_waiting
            FROM measured s JOIN cases k ON k.id = s.case_id JOIN calls c ON c.id = k.call_id
            GROUP BY c.id, c.title, c.created_at, s.stage
            ORDER BY c.created_at DESC, c.id, array_position($3::text[], s.stage)
            """,
            [status.value for status in statuses],
            [FUNNEL_STAGE[status].value for status in statuses],
            # In the funnel's order, which the rows of a call follow.
            [stage.value for stage in FunnelStage if stage in stages],
            now,
        )
        return [
            StageTime(
                call_id=r["call_id"],
                call_title=r["call_title"],
                stage=FunnelStage(r["stage"]),
                moved_on=int(r["moved_on"]),
                median=r["median"],
                longest=r["longest"],
                waiting=int(r["waiting"]),
                longest_waiting=r["longest_waiting"],
            )
            for r in rows
        ]

    # ----------------------------------------------------------------------- cases

    async def insert_case(
        self,
        *,
        snapshot: CaseSnapshot,
        title_key: str,
        progress: CaseProgress,
        entry: TimelineEntry,
        idempotency_key: str | None,
        request_fingerprint: str | None,
    ) -> StoredCase:
        """Insert a new case with its first status (the history's first row) and its first timeline entry, all three
        at the case's creation, in one statement. Raises ``DuplicateTitle`` or ``DuplicateIdempotencyKey`` when a
        unique index refuses the case.

        A refused case inserts nothing (``ON CONFLICT DO NOTHING``: no error, so the unit of work's transaction
        stays usable for the look-ups that word the refusal, without a savepoint around the insert). Only the
        timestamps come back: the rest is what was inserted (no second decoding and validation of the content).
        """
        row = await self._conn.fetchrow(
            INSERT_CASE,
            snapshot.case_id,
            snapshot.call_id,
            snapshot.submitter_id,
            snapshot.organisation.id,
            title_key,
            snapshot.model_dump(mode="json"),
            snapshot.revision,
            progress.status.value,
            progress.stage.value,
            progress.iteration,
            idempotency_key,
            request_fingerprint,
            entry.kind.value,
            entry.summary,
            entry.iteration,
            entry.details,
        )
        if row is None:
            # Which index refused it: the key's, if this submitter's key is taken (a concurrent retry), else the
            # title's. (The only other unique index is the primary key, and the case id is a fresh uuid4.)
            if idempotency_key is not None and await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM cases WHERE submitter_id = $1 AND idempotency_key = $2)",
                snapshot.submitter_id,
                idempotency_key,
            ):
                raise DuplicateIdempotencyKey
            raise DuplicateTitle
        return StoredCase(
            snapshot=snapshot,
            # What the row holds: the insert writes no outcome or feedback.
            progress=CaseProgress(status=progress.status, stage=progress.stage, iteration=progress.iteration),
            request_fingerprint=request_fingerprint,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def update_case_content(self, *, snapshot: CaseSnapshot, title_key: str, status: CaseStatus) -> StoredCase:
        """Store a new revision. Raises ``DuplicateTitle`` when the new title collides with another case."""
        try:
            async with self._conn.transaction():
                row = await self._conn.fetchrow(
                    f"""
                    UPDATE cases SET content = $2, title_key = $3, revision = $4, status = $5, updated_at = now()
                    WHERE id = $1
                    RETURNING {_CASE_COLUMNS}
                    """,  # noqa: S608 - constant column list, values bound
                    snapshot.case_id,
                    snapshot.model_dump(mode="json"),
                    title_key,
                    snapshot.revision,
                    status.value,
                )
                await self._status_entered(snapshot.case_id, status)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _TITLE_INDEX:
                raise DuplicateTitle from exc
            raise
        assert row is not None
        return _case(row)

    async def save_progress(
        self, *, case_id: uuid.UUID, progress: CaseProgress, at: datetime | None = None
    ) -> StoredCase:
        """Store where the case stands; a new status entered ``at`` (an event's time), or now."""
        row = await self._conn.fetchrow(
            f"""
            UPDATE cases SET status = $2, stage = $3, iteration = $4, outcome = $5, feedback = $6, updated_at = now()
            WHERE id = $1
            RETURNING {_CASE_COLUMNS}
            """,  # noqa: S608 - constant column list, values bound
            case_id,
            *_progress_values(progress),
        )
        assert row is not None
        await self._status_entered(case_id, progress.status, at)
        return _case(row)

    async def get_progress(self, case_id: uuid.UUID, *, for_update: bool = False) -> CaseProgress | None:
        """Where the case stands, without its content (an event's tracking needs no snapshot decoded and validated)."""
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_PROGRESS_COLUMNS} FROM cases WHERE id = $1{lock}",  # noqa: S608 - constant columns
            case_id,
        )
        return _progress(row) if row is not None else None

    async def store_progress(self, *, case_id: uuid.UUID, progress: CaseProgress, at: datetime | None = None) -> None:
        """``save_progress`` in one round trip, nothing read back: the update and the status history's entry
        (``_status_entered``'s rule) in one statement."""
        await self._conn.execute(
            STORE_PROGRESS,
            case_id,
            *_progress_values(progress),
            at,
        )

    async def _status_entered(self, case_id: uuid.UUID, status: CaseStatus, at: datetime | None = None) -> None:
        """Record in the status history that the case is in ``status`` from ``at`` (or now), unless it already was
        (a change of content or stage only). Every write of a case's status calls this."""
        await self._conn.execute(
            """
            INSERT INTO case_status_history (case_id, status, at)
            SELECT $1, $2::text, coalesce($3::timestamptz, now())
            WHERE $2::text IS DISTINCT FROM
                (SELECT status FROM case_status_history WHERE case_id = $1 ORDER BY id DESC LIMIT 1)
            """,
            case_id,
            status.value,
            at,
        )

    async def get_case(self, case_id: uuid.UUID, *, for_update: bool = False) -> StoredCase | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = $1{lock}", case_id)  # noqa: S608
        return _case(row) if row is not None else None

    async def find_by_idempotency_key(self, *, submitter_id: str, key: str) -> StoredCase | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE submitter_id = $1 AND idempotency_key = $2",  # noqa: S608
            submitter_id,
            key,
        )
        return _case(row) if row is not None else None

    async def find_by_title(
        self, *, call_id: uuid.UUID, organisation_id: str, title_key: str, excluding: uuid.UUID | None = None
    ) -> StoredCase | None:
        """The live (not withdrawn) case of one organisation in a call with this normalised title, if any."""
        row = await self._conn.fetchrow(
            f"""
            SELECT {_CASE_COLUMNS} FROM cases
            WHERE call_id = $1 AND organisation_id = $2 AND title_key = $3 AND status <> $4
              AND ($5::uuid IS NULL OR id <> $5)
            """,  # noqa: S608 - constant column list, values bound
            call_id,
            organisation_id,
            title_key,
            _WITHDRAWN,
            excluding,
        )
        return _case(row) if row is not None else None

    async def list_cases(
        self,
        *,
        submitter_id: str | None,
        call_id: uuid.UUID | None,
        statuses: Collection[CaseStatus] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[StoredCase], int]:
        """Cases, newest first; ``submitter_id`` None means everyone's (operators), ``statuses`` None any status."""
        where = """
            WHERE ($1::text IS NULL OR submitter_id = $1)
              AND ($2::uuid IS NULL OR call_id = $2)
              AND ($3::text[] IS NULL OR status = ANY($3::text[]))
        """
        args = (submitter_id, call_id, sorted(s.value for s in statuses) if statuses is not None else None)
        total = await self._conn.fetchval(f"SELECT count(*) FROM cases {where}", *args)  # noqa: S608
        rows = await self._conn.fetch(
            f"SELECT {_CASE_COLUMNS} FROM cases {where} ORDER BY created_at DESC, id LIMIT $4 OFFSET $5",  # noqa: S608
            *args,
            limit,
            offset,
        )
        return [_case(r) for r in rows], int(total)

    # ----------------------------------------------------------------------- timeline

    async def add_timeline_entry(
        self,
        *,
        case_id: uuid.UUID,
        entry: TimelineEntry,
        at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> None:
        """Record an entry (at ``at``, or now); an event's entry is recorded once however often it arrives."""
        await self._conn.execute(
            """
            INSERT INTO case_timeline (case_id, at, kind, summary, iteration, details, event_id)
            VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7)
            ON CONFLICT (event_id) DO NOTHING
            """,
            case_id,
            at,
            entry.kind.value,
            entry.summary,
            entry.iteration,
            entry.details,
            event_id,
        )

    async def timeline(self, case_id: uuid.UUID) -> list[TimelineItem]:
        rows = await self._conn.fetch(
            "SELECT at, kind, summary, iteration, details FROM case_timeline WHERE case_id = $1 ORDER BY at, id",
            case_id,
        )
        return [_timeline_item(r) for r in rows]

    # ----------------------------------------------------------------------- feedback points

    async def add_feedback_points(self, *, case_id: uuid.UUID, points: Sequence[FeedbackPoint]) -> None:
        """Keep the points review raised; a point seen before is kept as it is (a replayed event)."""
        if not points:
            return
        await self._conn.executemany(
            """
            INSERT INTO feedback_points (point_id, case_id, iteration, position, checklist_item, comment, raised_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (point_id) DO NOTHING
            """,
            [
                (p.point_id, case_id, p.iteration, position, p.checklist_item, p.comment, p.raised_at)
                for position, p in enumerate(points)
            ],
        )

    async def feedback_points(self, case_id: uuid.UUID) -> list[FeedbackPoint]:
        """The case's points, in the order review raised them."""
        rows = await self._conn.fetch(
            """
            SELECT point_id, iteration, checklist_item, comment, raised_at, addressed_in_revision
            FROM feedback_points WHERE case_id = $1 ORDER BY iteration, position
            """,
            case_id,
        )
        return [
            FeedbackPoint(
                point_id=r["point_id"],
                iteration=r["iteration"],
                checklist_item=r["checklist_item"],
                comment=r["comment"],
                raised_at=r["raised_at"],
                addressed_in_revision=r["addressed_in_revision"],
            )
            for r in rows
        ]

    async def mark_points_addressed(self, *, case_id: uuid.UUID, point_ids: Sequence[uuid.UUID], revision: int) -> None:
        await self._conn.execute(
            """
            UPDATE feedback_points SET addressed_in_revision = $3
            WHERE case_id = $1 AND point_id = ANY($2::uuid[]) AND addressed_in_revision IS NULL
            """,
            case_id,
            list(point_ids),
            revision,
        )

"""All of review's SQL (asyncpg), bound to the connection of one unit of work; typed records out.

Status values are bound as parameters from ``ReviewStatus``, ``IterationStatus`` and ``TaskStatus``, never
written as SQL literals (the partial indexes' predicates in the migration are the one exception).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.review.domain import (
    Call,
    CaseDetails,
    Decision,
    HeldTask,
    Iteration,
    IterationStatus,
    Reminder,
    ReminderWindows,
    ReviewedCase,
    ReviewStatus,
    RevisionNote,
    Task,
    TaskSlot,
    TaskStatus,
    Verdict,
)
from shared.db import Connection
from shared.events import CASE_HEADER_FIELDS, CallAnnouncedV1, CaseHeader, CaseSnapshot, DueReason, FeedbackItem, Person
from shared.vocabulary import IsoStage, Language

Row = asyncpg.Record | Mapping[str, Any]

# A revision may change everything in the header except which case and which call it is, and the organisation:
# the reviewers' conflict rule relies on the one intake verified at submission.
_REVISABLE_HEADER_FIELDS = tuple(f for f in CASE_HEADER_FIELDS if f not in ("case_id", "call_id", "organisation_id"))

_CASE_COLUMNS = ", ".join(
    (*CASE_HEADER_FIELDS, "status", "stage", "revision", "reviewers_per_iteration", "details", "submitter_id")
)
_CALL_FIELDS = ("call_id", "revision", "title", "opens_at", "closes_at", "reviewers_per_iteration")
_ITERATION_COLUMNS = "case_id, iteration, stage, revision, status, outcome, opened_at, due_at, escalated_at, closed_at"
_SLOT_COLUMNS = (
    "task_id, iteration, slot, status, reviewer_id, claimed_at, lease_expires_at, decision, comment, feedback, "
    "decided_at, reviewer_name, reviewer_email, reviewer_language"
)
# A task with its iteration's stage and its case. ``lease_lapsed`` is only the clock's half of "lease
# expired" (the mapping adds that the task is still claimed), so no status needs writing into the text.
_TASK_COLUMNS = ", ".join(
    (
        *(f"t.{c.strip()}" for c in _SLOT_COLUMNS.split(",")),
        "t.due_at",
        "t.created_at",
        "coalesce(t.lease_expires_at < now(), false) AS lease_lapsed",
        "i.stage",
        *(f"c.{f}" for f in CASE_HEADER_FIELDS),
        "c.status AS case_status",
        "c.stage AS case_stage",
        "c.revision AS case_revision",
        "c.reviewers_per_iteration",
        "c.details",
        "c.submitter_id",
        *(f"k.{column} AS known_call_{column}" for column in _CALL_FIELDS),
    )
)
_TASK_FROM = """
    FROM review_tasks t
    JOIN iterations i ON i.case_id = t.case_id AND i.iteration = t.iteration
    JOIN cases c ON c.case_id = t.case_id
    LEFT JOIN calls k ON k.call_id = c.call_id
"""
_QUEUE_ORDER = "t.due_at, t.created_at, t.slot"


@dataclass(frozen=True)
class QueueFigures:
    """The review queue now (the operator dashboard): tasks waiting, held, and past their due time."""

    queued: int
    claimed: int
    overdue: int


@dataclass(frozen=True)
class ReviewerLoad:
    reviewer_id: str
    holding: int
    decided: int


@dataclass(frozen=True)
class HeldTaskRow:
    """A task a reviewer holds now (claimed by them), as their workbench lists it."""

    task_id: uuid.UUID
    case_title: str
    stage: IsoStage  # the iteration's stage
    iteration: int
    due_at: datetime
    lease_expires_at: datetime
    # The lease ran out and nobody claimed the task since: still theirs on the record, but anyone may take it.
    lease_expired: bool


class ClaimRaced(Exception):
    """A claim lost a race against the same reviewer's concurrent claim of the iteration's other slot.

    The four-eyes unique index refused it and the transaction is spoilt; claiming again in a new one
    sees the other claim and skips the iteration.
    """


@dataclass(frozen=True)
class OverdueIteration:
    """An open iteration past its due time that was not escalated yet, locked for the escalation."""

    case_id: uuid.UUID
    call_id: uuid.UUID
    iteration: int
    due_at: datetime


# --------------------------------------------------------------------------- row mapping


def _details_json(snapshot: CaseSnapshot) -> dict[str, Any]:
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


def _details(raw: Mapping[str, Any] | None) -> CaseDetails:
    raw = raw or {}
    return CaseDetails(
        problem=raw.get("problem", ""),
        solution=raw.get("solution", ""),
        oecd_principles=tuple(raw.get("oecd_principles", ())),
        drivers=tuple(raw.get("drivers", ())),
        obstacles=tuple(raw.get("obstacles", ())),
        team_size=raw.get("team_size", 0),
        partner_count=raw.get("partner_count", 0),
    )


def _header(row: Row) -> CaseHeader:
    return CaseHeader.model_validate({f: row[f] for f in CASE_HEADER_FIELDS})


def _case(row: Row) -> ReviewedCase:
    return ReviewedCase(
        header=_header(row),
        status=ReviewStatus(row["status"]),
        stage=IsoStage(row["stage"]),
        revision=row["revision"],
        reviewers_per_iteration=row["reviewers_per_iteration"],
        details=_details(row["details"]),
        submitter_id=row["submitter_id"],
    )


def _iteration(row: Row) -> Iteration:
    return Iteration(
        case_id=row["case_id"],
        iteration=row["iteration"],
        stage=IsoStage(row["stage"]),
        revision=row["revision"],
        status=IterationStatus(row["status"]),
        outcome=Decision(row["outcome"]) if row["outcome"] is not None else None,
        opened_at=row["opened_at"],
        due_at=row["due_at"],
        escalated_at=row["escalated_at"],
        closed_at=row["closed_at"],
    )


def _feedback(raw: Sequence[Mapping[str, Any]] | None) -> tuple[FeedbackItem, ...]:
    return tuple(FeedbackItem.model_validate(f) for f in raw or ())


def _reviewer(row: Row) -> Person | None:
    """The reviewer as recorded at claim; None when nothing was (no language is recorded without the rest)."""
    if row["reviewer_id"] is None or row["reviewer_language"] is None:
        return None
    return Person(
        user_id=row["reviewer_id"],
        name=row["reviewer_name"] or "",
        email=row["reviewer_email"],
        language=Language(row["reviewer_language"]),
    )


def _slot(row: Row) -> TaskSlot:
    return TaskSlot(
        task_id=row["task_id"],
        iteration=row["iteration"],
        slot=row["slot"],
        status=TaskStatus(row["status"]),
        reviewer_id=row["reviewer_id"],
        claimed_at=row["claimed_at"],
        lease_expires_at=row["lease_expires_at"],
        decision=Decision(row["decision"]) if row["decision"] is not None else None,
        comment=row["comment"],
        feedback=_feedback(row["feedback"]),
        decided_at=row["decided_at"],
        reviewer=_reviewer(row),
    )


def _call(row: Row, prefix: str = "") -> Call | None:
    if row[f"{prefix}call_id"] is None:  # not learned yet (the outer join found nothing)
        return None
    return Call(**{f: row[f"{prefix}{f}"] for f in _CALL_FIELDS})


def _task(row: Row) -> Task:
    status = TaskStatus(row["status"])
    return Task(
        task_id=row["task_id"],
        iteration=row["iteration"],
        slot=row["slot"],
        status=status,
        stage=IsoStage(row["stage"]),
        due_at=row["due_at"],
        created_at=row["created_at"],
        reviewer_id=row["reviewer_id"],
        claimed_at=row["claimed_at"],
        lease_expires_at=row["lease_expires_at"],
        lease_expired=status is TaskStatus.CLAIMED and bool(row["lease_lapsed"]),
        decision=Decision(row["decision"]) if row["decision"] is not None else None,
        comment=row["comment"],
        feedback=_feedback(row["feedback"]),
        decided_at=row["decided_at"],
        case=ReviewedCase(
            header=_header(row),
            status=ReviewStatus(row["case_status"]),
            stage=IsoStage(row["case_stage"]),
            revision=row["case_revision"],
            reviewers_per_iteration=row["reviewers_per_iteration"],
            details=_details(row["details"]),
            submitter_id=row["submitter_id"],
        ),
        call=_call(row, prefix="known_call_"),
    )


class ReviewRepository:
    """Review's tables: cases (intake's snapshot and review's status), iterations and review tasks."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def queue_figures(self) -> QueueFigures:
        row = await self._conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE status = $1) AS queued,
                   count(*) FILTER (WHERE status = $2) AS claimed,
                   count(*) FILTER (WHERE status IN ($1, $2) AND due_at < now()) AS overdue
            FROM review_tasks
            """,
            TaskStatus.QUEUED.value,
            TaskStatus.CLAIMED.value,
        )
        assert row is not None
        return QueueFigures(queued=int(row["queued"]), claimed=int(row["claimed"]), overdue=int(row["overdue"]))

    async def reviewer_load(self) -> list[ReviewerLoad]:
        """Per reviewer: the tasks they hold now and those they decided, busiest first."""
        rows = await self._conn.fetch(
            """
            SELECT reviewer_id, count(*) FILTER (WHERE status = $1) AS holding,
                   count(*) FILTER (WHERE status = $2) AS decided
            FROM review_tasks WHERE reviewer_id IS NOT NULL
            GROUP BY reviewer_id ORDER BY holding DESC, decided DESC, reviewer_id
            """,
            TaskStatus.CLAIMED.value,
            TaskStatus.DECIDED.value,
        )
        return [ReviewerLoad(r["reviewer_id"], int(r["holding"]), int(r["decided"])) for r in rows]

    async def _plan_with_bound_values(self) -> None:
        """Have PostgreSQL plan the rest of this transaction's statements with their bound values.

        The queue's searches rely on partial indexes (``review_tasks_available``, ``iterations_overdue``),
        which the planner may use only when it can prove the statuses asked for are the index's. With the
        statuses bound, only a plan made for the values can: asyncpg prepares statements by name, and after
        a few executions PostgreSQL may settle on a generic plan, which would scan instead.
        """
        await self._conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")

    # ----------------------------------------------------------------------- calls

    async def get_call(self, call_id: uuid.UUID) -> Call | None:
        row = await self._conn.fetchrow(
            f"SELECT {', '.join(_CALL_FIELDS)} FROM calls WHERE call_id = $1",  # noqa: S608 - fixed text
            call_id,
        )
        return _call(row) if row is not None else None

    async def save_call(self, announcement: CallAnnouncedV1) -> bool:
        """Learn a call, or its newer revision; False (nothing written) if the stored revision is as new."""
        result = await self._conn.execute(
            """
            INSERT INTO calls (call_id, revision, title, description, opens_at, closes_at, categories, languages,
                               reviewers_per_iteration)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (call_id) DO UPDATE
                SET revision = EXCLUDED.revision, title = EXCLUDED.title, description = EXCLUDED.description,
                    opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at,
                    categories = EXCLUDED.categories, languages = EXCLUDED.languages,
                    reviewers_per_iteration = EXCLUDED.reviewers_per_iteration, updated_at = now()
                WHERE calls.revision < EXCLUDED.revision
            """,
            announcement.call_id,
            announcement.revision,
            announcement.title,
            announcement.description,
            announcement.opens_at,
            announcement.closes_at,
            [c.value for c in announcement.categories],
            [lang.value for lang in announcement.languages],
            announcement.reviewers_per_iteration,
        )
        return result.endswith(" 1")

    # ----------------------------------------------------------------------- cases

    async def get_case(self, case_id: uuid.UUID, *, for_update: bool = False) -> ReviewedCase | None:
        """The case; ``for_update`` also locks it, which serialises the work on one case (decisions, events)."""
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = $1{lock}",  # noqa: S608 - fixed text
            case_id,
        )
        return _case(row) if row is not None else None

    async def insert_case(self, *, snapshot: CaseSnapshot, status: ReviewStatus) -> bool:
        """Store a new case; False if it was already known (a second submission of the same case)."""
        header = snapshot.header().model_dump(mode="json")  # asyncpg takes uuids as text too
        n = len(CASE_HEADER_FIELDS)
        placeholders = ", ".join(f"${i}" for i in range(1, n + 7))
        result = await self._conn.execute(
            f"""
            INSERT INTO cases ({", ".join(CASE_HEADER_FIELDS)}, submitter_id, stage, revision,
                               reviewers_per_iteration, details, status)
            VALUES ({placeholders})
            ON CONFLICT (case_id) DO NOTHING
            """,  # noqa: S608 - column names from CaseHeader, values bound
            *(header[f] for f in CASE_HEADER_FIELDS),
            snapshot.submitter_id,
            snapshot.iso_stage.value,
            snapshot.revision,
            snapshot.reviewers_per_iteration,
            _details_json(snapshot),
            status.value,
        )
        return result.endswith(" 1")

    async def update_case_snapshot(self, *, snapshot: CaseSnapshot, stage: IsoStage) -> None:
        """Take a revision's snapshot of the case, at the stage review decided."""
        header = snapshot.header().model_dump(mode="json")
        n = len(_REVISABLE_HEADER_FIELDS)
        assignments = ", ".join(f"{f} = ${i}" for i, f in enumerate(_REVISABLE_HEADER_FIELDS, start=2))
        await self._conn.execute(
            f"""
            UPDATE cases SET {assignments}, stage = ${n + 2}, revision = ${n + 3},
                             reviewers_per_iteration = ${n + 4}, details = ${n + 5}, updated_at = now()
            WHERE case_id = $1
            """,  # noqa: S608 - column names from CaseHeader, values bound
            snapshot.case_id,
            *(header[f] for f in _REVISABLE_HEADER_FIELDS),
            stage.value,
            snapshot.revision,
            snapshot.reviewers_per_iteration,
            _details_json(snapshot),
        )

    async def set_case_status(self, *, case_id: uuid.UUID, status: ReviewStatus, stage: IsoStage | None = None) -> None:
        await self._conn.execute(
            "UPDATE cases SET status = $2, stage = coalesce($3, stage), updated_at = now() WHERE case_id = $1",
            case_id,
            status.value,
            stage.value if stage is not None else None,
        )

    # ----------------------------------------------------------------------- iterations

    async def open_iteration(
        self, *, case_id: uuid.UUID, stage: IsoStage, revision: int, reviewers: int, timebox: timedelta
    ) -> Iteration:
        """Open the case's next iteration with one queued task per reviewer."""
        row = await self._conn.fetchrow(
            f"""
            WITH numbered AS (
                UPDATE cases SET current_iteration = current_iteration + 1, updated_at = now()
                WHERE case_id = $1 RETURNING current_iteration
            )
            INSERT INTO iterations (case_id, iteration, stage, revision, status, due_at)
            SELECT $1, current_iteration, $2, $3, $4, now() + $5::interval FROM numbered
            RETURNING {_ITERATION_COLUMNS}
            """,  # noqa: S608 - fixed text
            case_id,
            stage.value,
            revision,
            IterationStatus.OPEN.value,
            timebox,
        )
        assert row is not None, "open_iteration on an unknown case"
        iteration = _iteration(row)
        await self._conn.executemany(
            """
            INSERT INTO review_tasks (task_id, case_id, iteration, slot, status, due_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            [
                (uuid.uuid4(), case_id, iteration.iteration, slot, TaskStatus.QUEUED.value, iteration.due_at)
                for slot in range(1, reviewers + 1)
            ],
        )
        return iteration

    async def close_iteration(
        self, *, case_id: uuid.UUID, iteration: int, status: IterationStatus, outcome: Decision | None
    ) -> None:
        await self._conn.execute(
            """
            UPDATE iterations SET status = $3, outcome = $4, closed_at = now()
            WHERE case_id = $1 AND iteration = $2
            """,
            case_id,
            iteration,
            status.value,
            outcome.value if outcome is not None else None,
        )

    async def cancel_open_work(self, case_id: uuid.UUID) -> int:
        """Cancel the case's open iterations and their undecided tasks; returns the tasks cancelled."""
        result = await self._conn.execute(
            "UPDATE review_tasks SET status = $2, lease_expires_at = NULL WHERE case_id = $1 AND status IN ($3, $4)",
            case_id,
            TaskStatus.CANCELLED.value,
            TaskStatus.QUEUED.value,
            TaskStatus.CLAIMED.value,
        )
        await self._conn.execute(
            "UPDATE iterations SET status = $2, closed_at = now() WHERE case_id = $1 AND status = $3",
            case_id,
            IterationStatus.CANCELLED.value,
            IterationStatus.OPEN.value,
        )
        return int(result.split()[-1])

    async def count_iterations(self, case_id: uuid.UUID) -> int:
        return int(await self._conn.fetchval("SELECT count(*) FROM iterations WHERE case_id = $1", case_id))

    async def list_iterations(self, case_id: uuid.UUID, *, limit: int, offset: int) -> list[Iteration]:
        rows = await self._conn.fetch(
            f"SELECT {_ITERATION_COLUMNS} FROM iterations WHERE case_id = $1 "  # noqa: S608 - fixed text
            "ORDER BY iteration LIMIT $2 OFFSET $3",
            case_id,
            limit,
            offset,
        )
        return [_iteration(r) for r in rows]

    async def tasks_of_iterations(self, case_id: uuid.UUID, *, iterations: Sequence[int]) -> list[TaskSlot]:
        """The slots of the given iterations of the case, by iteration and slot."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_SLOT_COLUMNS}
            FROM review_tasks WHERE case_id = $1 AND iteration = ANY($2::int[])
            ORDER BY iteration, slot
            """,  # noqa: S608 - fixed text
            case_id,
            list(iterations),
        )
        return [_slot(r) for r in rows]

    async def latest_settled_iteration(self, case_id: uuid.UUID) -> Iteration | None:
        """The case's last iteration that settled with an outcome (a cancelled one has none), if any."""
        row = await self._conn.fetchrow(
            f"SELECT {_ITERATION_COLUMNS} FROM iterations WHERE case_id = $1 AND outcome IS NOT NULL "  # noqa: S608
            "ORDER BY iteration DESC LIMIT 1",
            case_id,
        )
        return _iteration(row) if row is not None else None

    async def iterations_before(self, case_id: uuid.UUID, iteration: int) -> list[Iteration]:
        """The case's iterations before ``iteration``, oldest first."""
        rows = await self._conn.fetch(
            f"SELECT {_ITERATION_COLUMNS} FROM iterations WHERE case_id = $1 AND iteration < $2 "  # noqa: S608
            "ORDER BY iteration",
            case_id,
            iteration,
        )
        return [_iteration(r) for r in rows]

    async def tasks_of_case(self, case_id: uuid.UUID) -> list[TaskSlot]:
        """Every slot of every iteration of the case, by iteration and slot."""
        rows = await self._conn.fetch(
            f"SELECT {_SLOT_COLUMNS} FROM review_tasks WHERE case_id = $1 ORDER BY iteration, slot",  # noqa: S608
            case_id,
        )
        return [_slot(r) for r in rows]

    # ----------------------------------------------------------------------- revisions and feedback points

    async def record_revision(
        self, *, case_id: uuid.UUID, revision: int, change_note: str, addressed_points: Sequence[uuid.UUID]
    ) -> bool:
        """Keep a revision's note and the points it addresses; a revision seen before is kept as first recorded
        (False: nothing written)."""
        result = await self._conn.execute(
            """
            INSERT INTO case_revisions (case_id, revision, change_note, addressed_points) VALUES ($1, $2, $3, $4)
            ON CONFLICT (case_id, revision) DO NOTHING
            """,
            case_id,
            revision,
            change_note,
            list(addressed_points),
        )
        return result.endswith(" 1")

    async def revisions(self, case_id: uuid.UUID) -> list[RevisionNote]:
        rows = await self._conn.fetch(
            """
            SELECT revision, change_note, addressed_points, received_at FROM case_revisions
            WHERE case_id = $1 ORDER BY revision
            """,
            case_id,
        )
        return [
            RevisionNote(
                revision=r["revision"],
                change_note=r["change_note"],
                addressed_points=tuple(r["addressed_points"]),
                received_at=r["received_at"],
            )
            for r in rows
        ]

    async def set_feedback(self, *, task_id: uuid.UUID, feedback: Sequence[FeedbackItem]) -> None:
        """Replace a decided task's feedback (with the point ids its iteration's settlement gave it)."""
        await self._conn.execute(
            "UPDATE review_tasks SET feedback = $2 WHERE task_id = $1",
            task_id,
            [f.model_dump(mode="json") for f in feedback],
        )

    async def claim_overdue_iteration(self) -> OverdueIteration | None:
        """Lock one open, overdue, not yet escalated iteration (other instances skip it)."""
        await self._plan_with_bound_values()
        row = await self._conn.fetchrow(
            """
            SELECT i.case_id, i.iteration, i.due_at, c.call_id
            FROM iterations i JOIN cases c ON c.case_id = i.case_id
            WHERE i.status = $1 AND i.escalated_at IS NULL AND i.due_at < now()
            ORDER BY i.due_at
            LIMIT 1
            FOR UPDATE OF i SKIP LOCKED
            """,
            IterationStatus.OPEN.value,
        )
        if row is None:
            return None
        return OverdueIteration(
            case_id=row["case_id"], call_id=row["call_id"], iteration=row["iteration"], due_at=row["due_at"]
        )

    async def mark_escalated(self, *, case_id: uuid.UUID, iteration: int) -> None:
        await self._conn.execute(
            "UPDATE iterations SET escalated_at = now() WHERE case_id = $1 AND iteration = $2", case_id, iteration
        )

    # ----------------------------------------------------------------------- tasks

    async def claim_next_task(self, *, reviewer: Person, reviewer_organisation: str, lease: timedelta) -> Task | None:
        """Take the available task due first, skipping rows other claimers hold; None when there is none.

        Available: queued, or claimed by someone whose lease ran out. Never a case of the reviewer's own
        organisation, and never a second slot of an iteration the reviewer already holds or decided
        (four-eyes); the unique index on (case, iteration, reviewer) backs the latter up against two
        concurrent claims by the same reviewer, and the loser gets ``ClaimRaced``. The reviewer's name, email
        and language are recorded with the claim, replacing an earlier holder's.

        The availability test keeps the shape the partial index ``review_tasks_available`` is made for
        (each branch names one of its statuses), so a plan made for the bound statuses uses it.
        """
        await self._plan_with_bound_values()
        picked = await self._conn.fetchval(
            f"""
            SELECT t.task_id {_TASK_FROM}
            WHERE (t.status = $3 OR (t.status = $4 AND t.lease_expires_at < now()))
              AND i.status = $5 AND c.status = $6
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
            reviewer_organisation,
            reviewer.user_id,
            TaskStatus.QUEUED.value,
            TaskStatus.CLAIMED.value,
            IterationStatus.OPEN.value,
            ReviewStatus.IN_REVIEW.value,
        )
        if picked is None:
            return None
        try:
            await self._conn.execute(
                """
                UPDATE review_tasks SET status = $5, reviewer_id = $2, reviewer_org = $3, claimed_at = now(),
                                        lease_expires_at = now() + $4::interval,
                                        reviewer_name = $6, reviewer_email = $7, reviewer_language = $8
                WHERE task_id = $1
                """,
                picked,
                reviewer.user_id,
                reviewer_organisation,
                lease,
                TaskStatus.CLAIMED.value,
                reviewer.name,
                reviewer.email,
                reviewer.language.value,
            )
        except asyncpg.UniqueViolationError as exc:
            raise ClaimRaced(str(exc)) from exc
        return await self.get_task(picked)

    async def get_task(self, task_id: uuid.UUID, *, for_update: bool = False) -> Task | None:
        lock = " FOR UPDATE OF t" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_TASK_COLUMNS} {_TASK_FROM} WHERE t.task_id = $1{lock}",
            task_id,
        )
        return _task(row) if row is not None else None

    async def record_decision(self, *, task_id: uuid.UUID, verdict: Verdict) -> None:
        await self._conn.execute(
            """
            UPDATE review_tasks SET status = $5, decision = $2, comment = $3, feedback = $4, decided_at = now(),
                                    lease_expires_at = NULL
            WHERE task_id = $1
            """,
            task_id,
            verdict.decision.value,
            verdict.comment,
            [f.model_dump(mode="json") for f in verdict.feedback],
            TaskStatus.DECIDED.value,
        )

    async def release_task(self, task_id: uuid.UUID) -> None:
        await self._conn.execute(
            """
            UPDATE review_tasks SET status = $2, reviewer_id = NULL, reviewer_org = NULL, claimed_at = NULL,
                                    lease_expires_at = NULL,
                                    reviewer_name = NULL, reviewer_email = NULL, reviewer_language = NULL
            WHERE task_id = $1
            """,
            task_id,
            TaskStatus.QUEUED.value,
        )

    async def list_tasks(self, *, status: TaskStatus | None, limit: int, offset: int) -> tuple[list[Task], int]:
        """One page of all tasks (of one status, if given), due first, and the total."""
        status_value = status.value if status is not None else None
        rows = await self._conn.fetch(
            f"""
            SELECT {_TASK_COLUMNS} {_TASK_FROM}
            WHERE ($1::text IS NULL OR t.status = $1)
            ORDER BY {_QUEUE_ORDER}
            LIMIT $2 OFFSET $3
            """,
            status_value,
            limit,
            offset,
        )
        total = await self._conn.fetchval(
            "SELECT count(*) FROM review_tasks WHERE ($1::text IS NULL OR status = $1)", status_value
        )
        return [_task(r) for r in rows], int(total)

    async def held_tasks(self, reviewer_id: str) -> list[HeldTaskRow]:
        """The tasks ``reviewer_id`` holds now, due first (the partial index ``review_tasks_claimed`` holds every
        claimed task, a few per reviewer)."""
        rows = await self._conn.fetch(
            """
            SELECT t.task_id, c.title, i.stage, t.iteration, t.due_at, t.lease_expires_at,
                   t.lease_expires_at < now() AS lease_lapsed
            FROM review_tasks t
            JOIN iterations i ON i.case_id = t.case_id AND i.iteration = t.iteration
            JOIN cases c ON c.case_id = t.case_id
            WHERE t.status = $1 AND t.reviewer_id = $2
            ORDER BY t.due_at, t.created_at, t.slot
            """,
            TaskStatus.CLAIMED.value,
            reviewer_id,
        )
        return [
            HeldTaskRow(
                task_id=r["task_id"],
                case_title=r["title"],
                stage=IsoStage(r["stage"]),
                iteration=r["iteration"],
                due_at=r["due_at"],
                lease_expires_at=r["lease_expires_at"],
                lease_expired=bool(r["lease_lapsed"]),
            )
            for r in rows
        ]

    # ----------------------------------------------------------------------- reminders to the holder (TaskDueSoonV1)

    async def claim_task_to_remind(self, windows: ReminderWindows) -> tuple[HeldTask, datetime] | None:
        """Lock one claimed task with a reminder due (other instances skip it), and the database's clock it was
        found by; None when there is none.

        The search is ``domain.due_reminders`` in SQL: a held lease ending within ``windows.lease`` not yet
        reminded for, or an iteration due within ``windows.sla`` whose holder had no SLA reminder for the task.
        Under the row lock, a task another instance has just reminded of no longer matches.
        """
        await self._plan_with_bound_values()
        row = await self._conn.fetchrow(
            f"""
            SELECT t.task_id, t.status, t.iteration, t.reviewer_id, t.reviewer_name, t.reviewer_email,
                   t.reviewer_language, t.lease_expires_at, t.lease_reminded_for, t.sla_reminded_reviewers,
                   i.due_at AS iteration_due_at, {", ".join(f"c.{f}" for f in CASE_HEADER_FIELDS)}, now() AS now
            FROM review_tasks t
            JOIN iterations i ON i.case_id = t.case_id AND i.iteration = t.iteration
            JOIN cases c ON c.case_id = t.case_id
            WHERE t.status = $1 AND t.lease_expires_at >= now()
              AND ((t.lease_expires_at - now() <= $2::interval
                    AND t.lease_reminded_for IS DISTINCT FROM t.lease_expires_at)
                OR (i.due_at - now() <= $3::interval AND NOT t.reviewer_id = ANY(t.sla_reminded_reviewers)))
            ORDER BY t.lease_expires_at
            LIMIT 1
            FOR UPDATE OF t SKIP LOCKED
            """,  # noqa: S608 - column names from CaseHeader, values bound
            TaskStatus.CLAIMED.value,
            windows.lease,
            windows.sla,
        )
        if row is None:
            return None
        held = HeldTask(
            task_id=row["task_id"],
            status=TaskStatus(row["status"]),
            iteration=row["iteration"],
            case=_header(row),
            reviewer=_reviewer(row) or Person(user_id=row["reviewer_id"]),
            lease_expires_at=row["lease_expires_at"],
            iteration_due_at=row["iteration_due_at"],
            lease_reminded_for=row["lease_reminded_for"],
            sla_reminded_reviewers=tuple(row["sla_reminded_reviewers"]),
        )
        return held, row["now"]

    async def mark_reminded(self, *, task_id: uuid.UUID, reminder: Reminder, reviewer_id: str) -> None:
        """Keep that the task's holder had ``reminder``, so it is not sent again (see ``claim_task_to_remind``)."""
        match reminder.reason:
            case DueReason.LEASE:
                await self._conn.execute(
                    "UPDATE review_tasks SET lease_reminded_for = $2 WHERE task_id = $1", task_id, reminder.due_at
                )
            case DueReason.SLA:
                await self._conn.execute(
                    "UPDATE review_tasks SET sla_reminded_reviewers = array_append(sla_reminded_reviewers, $2) "
                    "WHERE task_id = $1",
                    task_id,
                    reviewer_id,
                )

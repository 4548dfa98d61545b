"""All of awards' SQL (asyncpg), bound to the connection of one unit of work; typed records out.

Status values are bound as parameters from ``EvaluationStatus``, never written as SQL literals.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.awards.domain import (
    Call,
    CaseContent,
    Dossier,
    Evaluation,
    EvaluationStatus,
    JurorProfile,
    Jury,
    Person,
    ReviewRound,
    RevisionNote,
    RoundOpened,
    RoundOutcome,
    RoundSettled,
    Scorecard,
    ScoredCase,
    ScoreEntry,
    ScoringProgress,
)
from shared.db import Connection
from shared.events import CASE_HEADER_FIELDS, CallAnnouncedV1, CaseHeader, Criterion, FeedbackItem
from shared.vocabulary import IsoStage, Language

# A fetched row, or one rebuilt as a dict from the columns of a join.
Row = asyncpg.Record | Mapping[str, Any]

_EVALUATION_COLUMNS = ", ".join(
    (
        *CASE_HEADER_FIELDS,
        "criteria",
        "status",
        "opened_at",
        "outcome",
        "feedback",
        "weighted_score",
        "rank_in_category",
        "decided_at",
        "decided_by",
        "published_at",
        "withdrawn_at",
    )
)
_WITHDRAWN = EvaluationStatus.WITHDRAWN.value
# An assignment with its evaluation and the juror's scorecard, if any (a join of three tables).
_ASSIGNMENT_COLUMNS = ", ".join(
    (
        *(f"e.{c.strip()}" for c in _EVALUATION_COLUMNS.split(",")),
        "a.assigned_at",
        "a.scoring_due_at",
        "s.scores AS s_scores",
        "s.overall_comment AS s_overall_comment",
        "s.submitted_at AS s_submitted_at",
    )
)


@dataclass(frozen=True)
class CallScoring:
    """A call's scoring progress (the operator dashboard): scorecards in, of the juror assignments made."""

    call_id: uuid.UUID
    call_title: str
    scored: int
    assigned: int


@dataclass(frozen=True)
class JurorScoring:
    juror_id: str
    scored: int
    assigned: int


@dataclass(frozen=True)
class Assignment:
    """One evaluation on a juror's work list, with the juror's own scorecard if they scored."""

    evaluation: Evaluation
    assigned_at: datetime
    scoring_due_at: datetime
    scorecard: Scorecard | None


@dataclass(frozen=True)
class DueReminder:
    """An assignment whose juror is to be reminded now (claimed: marked reminded in this transaction)."""

    case_id: uuid.UUID
    call_id: uuid.UUID
    case_title: str
    call_title: str
    juror_id: str
    scoring_due_at: datetime


@dataclass(frozen=True)
class CallCompleteness:
    """A call's title and whether its evaluation was complete when last looked at (row locked for the check)."""

    title: str
    evaluation_complete: bool


# --------------------------------------------------------------------------- row mapping


def _criteria(raw: Sequence[dict[str, Any]]) -> tuple[Criterion, ...]:
    return tuple(Criterion.model_validate(c) for c in raw)


def _criteria_json(criteria: Sequence[Criterion]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in criteria]


def _jury(row: Row) -> Jury:
    return Jury(
        jurors=tuple(
            JurorProfile(
                user_id=j["user_id"],
                name=j["name"],
                organisation_id=j["organisation_id"],
                email=j.get("email"),
                conflicts=frozenset(j.get("conflicts", [])),
                language=Language(j.get("language", Language.EN.value)),
            )
            for j in row["jurors"]
        ),
        jurors_per_case=row["jurors_per_case"],
        scoring_due_at=row["scoring_due_at"],
    )


def _evaluation(row: Row) -> Evaluation:
    return Evaluation(
        case=CaseHeader.model_validate({f: row[f] for f in CASE_HEADER_FIELDS}),
        criteria=_criteria(row["criteria"]),
        status=EvaluationStatus(row["status"]),
        opened_at=row["opened_at"],
        outcome=row["outcome"],
        feedback=row["feedback"],
        weighted_score=row["weighted_score"],
        rank_in_category=row["rank_in_category"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        published_at=row["published_at"],
        withdrawn_at=row["withdrawn_at"],
    )


def _content_json(content: CaseContent) -> dict[str, Any]:
    return {
        "revision": content.revision,
        "title": content.title,
        "summary": content.summary,
        "problem": content.problem,
        "solution": content.solution,
        "organisation_name": content.organisation_name,
        "team": [{"name": p.name, "role": p.role} for p in content.team],
        "partners": [{"name": p.name, "role": p.role} for p in content.partners],
        "oecd_principles": list(content.oecd_principles),
        "iso_stage": content.iso_stage.value,
        "drivers": list(content.drivers),
        "obstacles": list(content.obstacles),
    }


def _content(raw: Mapping[str, Any]) -> CaseContent:
    return CaseContent(
        revision=raw["revision"],
        title=raw["title"],
        summary=raw["summary"],
        problem=raw["problem"],
        solution=raw["solution"],
        organisation_name=raw["organisation_name"],
        team=tuple(Person(name=p["name"], role=p.get("role")) for p in raw.get("team", ())),
        partners=tuple(Person(name=p["name"], role=p.get("role")) for p in raw.get("partners", ())),
        oecd_principles=tuple(raw.get("oecd_principles", ())),
        iso_stage=IsoStage(raw["iso_stage"]),
        drivers=tuple(raw.get("drivers", ())),
        obstacles=tuple(raw.get("obstacles", ())),
    )


def _round(row: Row) -> ReviewRound:
    return ReviewRound(
        iteration=row["iteration"],
        stage=IsoStage(row["stage"]) if row["stage"] is not None else None,
        revision=row["revision"],
        opened_at=row["opened_at"],
        outcome=RoundOutcome(row["outcome"]) if row["outcome"] is not None else None,
        comment=row["comment"],
        feedback=tuple(FeedbackItem.model_validate(f) for f in row["feedback"]),
        settled_at=row["settled_at"],
    )


def _scorecard(row: Row) -> Scorecard:
    return Scorecard(
        case_id=row["case_id"],
        juror_id=row["juror_id"],
        scores=tuple(
            ScoreEntry(criterion=s["criterion"], score=s["score"], comment=s["comment"]) for s in row["scores"]
        ),
        overall_comment=row["overall_comment"],
        submitted_at=row["submitted_at"],
    )


def _assignment(row: Row, juror_id: str) -> Assignment:
    evaluation = _evaluation(row)
    scorecard = (
        _scorecard(
            {
                "case_id": evaluation.case_id,
                "juror_id": juror_id,
                "scores": row["s_scores"],
                "overall_comment": row["s_overall_comment"],
                "submitted_at": row["s_submitted_at"],
            }
        )
        if row["s_scores"] is not None
        else None
    )
    return Assignment(
        evaluation=evaluation, assigned_at=row["assigned_at"], scoring_due_at=row["scoring_due_at"], scorecard=scorecard
    )


class AwardsRepository:
    """Awards' tables: criteria, juries, evaluations, assignments, recusals and scorecards."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def scoring_per_call(self) -> list[CallScoring]:
        """Scoring progress of the cases under evaluation (not withdrawn), per call, newest call first."""
        rows = await self._conn.fetch(
            """
            SELECT e.call_id, max(e.call_title) AS call_title, count(s.case_id) AS scored, count(a.case_id) AS assigned
            FROM evaluations e
            JOIN assignments a ON a.case_id = e.case_id
            LEFT JOIN scorecards s ON s.case_id = a.case_id AND s.juror_id = a.juror_id
            WHERE e.status <> $1
            GROUP BY e.call_id ORDER BY max(e.opened_at) DESC, e.call_id
            """,
            EvaluationStatus.WITHDRAWN.value,
        )
        return [CallScoring(r["call_id"], r["call_title"], int(r["scored"]), int(r["assigned"])) for r in rows]

    async def scoring_per_juror(self) -> list[JurorScoring]:
        """Per juror: scorecards in, of the cases assigned to them (withdrawn cases left out)."""
        rows = await self._conn.fetch(
            """
            SELECT a.juror_id, count(s.case_id) AS scored, count(*) AS assigned
            FROM assignments a
            JOIN evaluations e ON e.case_id = a.case_id
            LEFT JOIN scorecards s ON s.case_id = a.case_id AND s.juror_id = a.juror_id
            WHERE e.status <> $1
            GROUP BY a.juror_id ORDER BY a.juror_id
            """,
            EvaluationStatus.WITHDRAWN.value,
        )
        return [JurorScoring(r["juror_id"], int(r["scored"]), int(r["assigned"])) for r in rows]

    # ----------------------------------------------------------------------- locking

    async def lock_call(self, call_id: uuid.UUID, *, shared: bool = False) -> None:
        """Serialise changes to one call's jury, criteria and assignments (held until the transaction ends).

        Scoring takes it shared; changing criteria or the panel, and assigning jurors, take it exclusively.
        """
        key = int.from_bytes(call_id.bytes[:8], "big", signed=True)
        if shared:
            await self._conn.execute("SELECT pg_advisory_xact_lock_shared($1)", key)
        else:
            await self._conn.execute("SELECT pg_advisory_xact_lock($1)", key)

    # ----------------------------------------------------------------------- calls

    async def get_call(self, call_id: uuid.UUID) -> Call | None:
        row = await self._conn.fetchrow(
            """
            SELECT call_id, revision, title, opens_at, closes_at, criteria, learned_at, updated_at
            FROM calls WHERE call_id = $1
            """,
            call_id,
        )
        if row is None:
            return None
        return Call(
            call_id=row["call_id"],
            revision=row["revision"],
            title=row["title"],
            opens_at=row["opens_at"],
            closes_at=row["closes_at"],
            criteria=_criteria(row["criteria"]),
            learned_at=row["learned_at"],
            updated_at=row["updated_at"],
        )

    async def save_call(self, announcement: CallAnnouncedV1, *, keep_criteria: bool) -> bool:
        """Learn a call, or its newer revision; False (nothing written) if the stored revision is as new.

        With ``keep_criteria`` a known call keeps its criteria (a new call takes the announced ones anyway).
        """
        result = await self._conn.execute(
            """
            INSERT INTO calls (call_id, revision, title, description, opens_at, closes_at, categories, languages,
                               reviewers_per_iteration, criteria)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (call_id) DO UPDATE
                SET revision = EXCLUDED.revision, title = EXCLUDED.title, description = EXCLUDED.description,
                    opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at,
                    categories = EXCLUDED.categories, languages = EXCLUDED.languages,
                    reviewers_per_iteration = EXCLUDED.reviewers_per_iteration,
                    criteria = CASE WHEN $11 THEN calls.criteria ELSE EXCLUDED.criteria END,
                    updated_at = now()
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
            _criteria_json(announcement.criteria),
            keep_criteria,
        )
        return result.endswith(" 1")

    # ----------------------------------------------------------------------- criteria

    async def get_criteria(self, call_id: uuid.UUID) -> tuple[Criterion, ...] | None:
        raw = await self._conn.fetchval("SELECT criteria FROM call_criteria WHERE call_id = $1", call_id)
        return _criteria(raw) if raw is not None else None

    async def set_criteria(self, *, call_id: uuid.UUID, criteria: Sequence[Criterion], updated_by: str) -> None:
        await self._conn.execute(
            """
            INSERT INTO call_criteria (call_id, criteria, updated_by) VALUES ($1, $2, $3)
            ON CONFLICT (call_id) DO UPDATE
                SET criteria = EXCLUDED.criteria, updated_by = EXCLUDED.updated_by, updated_at = now()
            """,
            call_id,
            _criteria_json(criteria),
            updated_by,
        )

    async def call_has_scores(self, call_id: uuid.UUID) -> bool:
        return bool(
            await self._conn.fetchval(
                """
                SELECT EXISTS (SELECT 1 FROM scorecards s JOIN evaluations e USING (case_id)
                               WHERE e.call_id = $1 AND e.status <> $2)
                """,
                call_id,
                _WITHDRAWN,
            )
        )

    async def replace_open_criteria(self, *, call_id: uuid.UUID, criteria: Sequence[Criterion]) -> int:
        """Give the call's open evaluations the new criteria (only done while none has scores)."""
        result = await self._conn.execute(
            "UPDATE evaluations SET criteria = $2 WHERE call_id = $1 AND status = $3",
            call_id,
            _criteria_json(criteria),
            EvaluationStatus.OPEN.value,
        )
        return int(result.split()[-1])

    # ----------------------------------------------------------------------- jury

    async def get_jury(self, call_id: uuid.UUID) -> Jury | None:
        row = await self._conn.fetchrow(
            "SELECT jurors, jurors_per_case, scoring_due_at FROM juries WHERE call_id = $1", call_id
        )
        return _jury(row) if row is not None else None

    async def set_jury(self, *, call_id: uuid.UUID, jury: Jury, updated_by: str) -> None:
        jurors = [
            {
                "user_id": j.user_id,
                "name": j.name,
                "email": j.email,
                "organisation_id": j.organisation_id,
                "conflicts": sorted(j.conflicts),
                "language": j.language.value,
            }
            for j in jury.jurors
        ]
        await self._conn.execute(
            """
            INSERT INTO juries (call_id, jurors, jurors_per_case, scoring_due_at, updated_by)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (call_id) DO UPDATE
                SET jurors = EXCLUDED.jurors, jurors_per_case = EXCLUDED.jurors_per_case,
                    scoring_due_at = EXCLUDED.scoring_due_at, updated_by = EXCLUDED.updated_by, updated_at = now()
            """,
            call_id,
            jurors,
            jury.jurors_per_case,
            jury.scoring_due_at,
            updated_by,
        )

    # ----------------------------------------------------------------------- a call's completeness

    async def lock_call_completeness(self, call_id: uuid.UUID) -> CallCompleteness | None:
        """The call's row, locked until the transaction ends: one completeness check at a time per call, each
        seeing what the one before it committed. None for a call awards has not learned (it has no jury)."""
        row = await self._conn.fetchrow(
            "SELECT title, evaluation_complete FROM calls WHERE call_id = $1 FOR UPDATE", call_id
        )
        if row is None:
            return None
        return CallCompleteness(title=row["title"], evaluation_complete=row["evaluation_complete"])

    async def set_evaluation_complete(self, call_id: uuid.UUID, *, complete: bool) -> None:
        await self._conn.execute("UPDATE calls SET evaluation_complete = $2 WHERE call_id = $1", call_id, complete)

    async def open_scoring_progress(self, call_id: uuid.UUID) -> list[ScoringProgress]:
        """Each open evaluation of the call: its assigned jurors and those of them who scored."""
        rows = await self._conn.fetch(
            """
            SELECT e.case_id,
                   coalesce(array_agg(a.juror_id) FILTER (WHERE a.juror_id IS NOT NULL), '{}') AS assigned,
                   coalesce(array_agg(a.juror_id) FILTER (WHERE s.juror_id IS NOT NULL), '{}') AS scored
            FROM evaluations e
            LEFT JOIN assignments a ON a.case_id = e.case_id
            LEFT JOIN scorecards s ON s.case_id = a.case_id AND s.juror_id = a.juror_id
            WHERE e.call_id = $1 AND e.status = $2
            GROUP BY e.case_id
            """,
            call_id,
            EvaluationStatus.OPEN.value,
        )
        return [ScoringProgress(assigned=frozenset(r["assigned"]), scored=frozenset(r["scored"])) for r in rows]

    # ----------------------------------------------------------------------- evaluations

    async def insert_evaluation(
        self, *, case: CaseHeader, criteria: Sequence[Criterion], status: EvaluationStatus
    ) -> bool:
        """Create the evaluation of a nominated case; False if it already exists (a repeated nomination)."""
        header = case.model_dump(mode="json")  # asyncpg takes uuids as text too
        columns = ", ".join(CASE_HEADER_FIELDS)
        placeholders = ", ".join(f"${i}" for i in range(1, len(CASE_HEADER_FIELDS) + 1))
        n = len(CASE_HEADER_FIELDS)
        inserted = await self._conn.fetchval(
            f"""
            INSERT INTO evaluations ({columns}, criteria, status, withdrawn_at)
            VALUES ({placeholders}, ${n + 1}, ${n + 2}, CASE WHEN ${n + 2} = ${n + 3} THEN now() END)
            ON CONFLICT (case_id) DO NOTHING
            RETURNING true
            """,  # noqa: S608 - column names from CaseHeader, values bound
            *(header[f] for f in CASE_HEADER_FIELDS),
            _criteria_json(criteria),
            status.value,
            _WITHDRAWN,
        )
        return bool(inserted)

    async def get_evaluation(self, case_id: uuid.UUID, *, for_update: bool = False) -> Evaluation | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_EVALUATION_COLUMNS} FROM evaluations WHERE case_id = $1{lock}",  # noqa: S608
            case_id,
        )
        return _evaluation(row) if row is not None else None

    async def list_evaluations(
        self, *, call_id: uuid.UUID | None, status: EvaluationStatus | None, limit: int, offset: int
    ) -> tuple[list[Evaluation], int]:
        where = "($1::uuid IS NULL OR call_id = $1) AND ($2::text IS NULL OR status = $2)"
        status_value = status.value if status else None
        total = await self._conn.fetchval(
            f"SELECT count(*) FROM evaluations WHERE {where}",  # noqa: S608
            call_id,
            status_value,
        )
        rows = await self._conn.fetch(
            f"SELECT {_EVALUATION_COLUMNS} FROM evaluations WHERE {where} "  # noqa: S608
            "ORDER BY opened_at, case_id LIMIT $3 OFFSET $4",
            call_id,
            status_value,
            limit,
            offset,
        )
        return [_evaluation(r) for r in rows], int(total)

    async def open_evaluations_of_call(self, call_id: uuid.UUID) -> list[Evaluation]:
        return await self._evaluations_of_call(call_id, EvaluationStatus.OPEN, "ORDER BY opened_at, case_id")

    async def decided_evaluations_of_call(self, call_id: uuid.UUID) -> list[Evaluation]:
        """The call's decided evaluations (awaiting publication), locked for it."""
        return await self._evaluations_of_call(
            call_id, EvaluationStatus.DECIDED, "ORDER BY decided_at, case_id FOR UPDATE"
        )

    async def _evaluations_of_call(self, call_id: uuid.UUID, status: EvaluationStatus, rest: str) -> list[Evaluation]:
        rows = await self._conn.fetch(
            f"SELECT {_EVALUATION_COLUMNS} FROM evaluations WHERE call_id = $1 AND status = $2 {rest}",  # noqa: S608
            call_id,
            status.value,
        )
        return [_evaluation(r) for r in rows]

    async def record_decision(
        self,
        *,
        case_id: uuid.UUID,
        status: EvaluationStatus,
        outcome: str,
        feedback: str,
        weighted_score: float | None,
        rank_in_category: int | None,
        decided_by: str,
    ) -> Evaluation:
        row = await self._conn.fetchrow(
            f"""
            UPDATE evaluations SET status = $2, outcome = $3, feedback = $4, weighted_score = $5,
                   rank_in_category = $6, decided_by = $7, decided_at = now()
            WHERE case_id = $1
            RETURNING {_EVALUATION_COLUMNS}
            """,  # noqa: S608
            case_id,
            status.value,
            outcome,
            feedback,
            weighted_score,
            rank_in_category,
            decided_by,
        )
        assert row is not None
        return _evaluation(row)

    async def mark_published(self, case_ids: Sequence[uuid.UUID], *, status: EvaluationStatus) -> None:
        await self._conn.execute(
            "UPDATE evaluations SET status = $2, published_at = now() WHERE case_id = ANY($1::uuid[])",
            list(case_ids),
            status.value,
        )

    async def mark_withdrawn(self, *, case_id: uuid.UUID, status: EvaluationStatus) -> None:
        await self._conn.execute(
            "UPDATE evaluations SET status = $2, withdrawn_at = now() WHERE case_id = $1", case_id, status.value
        )

    async def remember_withdrawal(self, *, case_id: uuid.UUID, call_id: uuid.UUID) -> None:
        await self._conn.execute(
            "INSERT INTO withdrawn_cases (case_id, call_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", case_id, call_id
        )

    async def was_withdrawn(self, case_id: uuid.UUID) -> bool:
        return bool(
            await self._conn.fetchval("SELECT EXISTS (SELECT 1 FROM withdrawn_cases WHERE case_id = $1)", case_id)
        )

    # ----------------------------------------------------------------------- assignments

    async def assigned_jurors(self, case_id: uuid.UUID) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT juror_id FROM assignments WHERE case_id = $1 ORDER BY assigned_at, juror_id", case_id
        )
        return [r["juror_id"] for r in rows]

    async def is_assigned(self, *, case_id: uuid.UUID, juror_id: str) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM assignments WHERE case_id = $1 AND juror_id = $2)", case_id, juror_id
            )
        )

    async def juror_loads(self, call_id: uuid.UUID) -> dict[str, int]:
        """How many live evaluations of the call each juror is assigned to."""
        rows = await self._conn.fetch(
            """
            SELECT a.juror_id, count(*) AS n FROM assignments a JOIN evaluations e USING (case_id)
            WHERE e.call_id = $1 AND e.status <> $2
            GROUP BY a.juror_id
            """,
            call_id,
            _WITHDRAWN,
        )
        return {r["juror_id"]: int(r["n"]) for r in rows}

    async def transaction_time(self) -> datetime:
        """The transaction's clock (``now()``), the one every timestamp column defaults to."""
        now: datetime = await self._conn.fetchval("SELECT now()")
        return now

    async def add_assignments(
        self, *, case_id: uuid.UUID, juror_ids: Sequence[str], assigned_at: datetime, scoring_due_at: datetime
    ) -> dict[str, datetime]:
        """Assign the jurors; returns the deadline of each assignment made (one already there is left as it is)."""
        rows = await self._conn.fetch(
            """
            INSERT INTO assignments (case_id, juror_id, assigned_at, scoring_due_at)
            SELECT $1, juror_id, $3, $4 FROM unnest($2::text[]) AS juror_id
            ON CONFLICT DO NOTHING
            RETURNING juror_id, scoring_due_at
            """,
            case_id,
            list(juror_ids),
            assigned_at,
            scoring_due_at,
        )
        return {r["juror_id"]: r["scoring_due_at"] for r in rows}

    async def open_assignments_of_call(self, call_id: uuid.UUID) -> list[tuple[uuid.UUID, str, datetime]]:
        """(case, juror, assigned at) of every assignment to an open evaluation of the call."""
        rows = await self._conn.fetch(
            """
            SELECT a.case_id, a.juror_id, a.assigned_at FROM assignments a JOIN evaluations e USING (case_id)
            WHERE e.call_id = $1 AND e.status = $2
            """,
            call_id,
            EvaluationStatus.OPEN.value,
        )
        return [(r["case_id"], r["juror_id"], r["assigned_at"]) for r in rows]

    async def reschedule_assignments(self, deadlines: Sequence[tuple[uuid.UUID, str, datetime]]) -> None:
        """Give assignments (case, juror) a new scoring deadline; a reminder already sent is not sent again."""
        await self._conn.executemany(
            "UPDATE assignments SET scoring_due_at = $3 WHERE case_id = $1 AND juror_id = $2", deadlines
        )

    async def claim_due_reminder(self, *, due_until: datetime) -> DueReminder | None:
        """Mark one unreminded assignment reminded whose deadline is at most ``due_until``, whose juror has not
        scored and whose evaluation is open; None when there is none.

        ``SKIP LOCKED`` lets another instance take another one meanwhile, and ``reminded_at IS NULL`` is checked
        again by the UPDATE: an assignment is claimed once, and the claim commits with the reminder's outbox row.
        """
        row = await self._conn.fetchrow(
            """
            WITH due AS (
                SELECT a.case_id, a.juror_id
                FROM assignments a JOIN evaluations e USING (case_id)
                WHERE a.reminded_at IS NULL AND a.scoring_due_at <= $1 AND e.status = $2
                  AND NOT EXISTS (SELECT 1 FROM scorecards s WHERE s.case_id = a.case_id AND s.juror_id = a.juror_id)
                ORDER BY a.scoring_due_at, a.case_id, a.juror_id
                LIMIT 1
                FOR UPDATE OF a SKIP LOCKED
            )
            UPDATE assignments a SET reminded_at = now()
            FROM due, evaluations e
            WHERE a.case_id = due.case_id AND a.juror_id = due.juror_id AND a.reminded_at IS NULL
              AND e.case_id = a.case_id
            RETURNING a.case_id, a.juror_id, a.scoring_due_at, e.call_id, e.title, e.call_title
            """,
            due_until,
            EvaluationStatus.OPEN.value,
        )
        if row is None:
            return None
        return DueReminder(
            case_id=row["case_id"],
            call_id=row["call_id"],
            case_title=row["title"],
            call_title=row["call_title"],
            juror_id=row["juror_id"],
            scoring_due_at=row["scoring_due_at"],
        )

    async def remove_assignment(self, *, case_id: uuid.UUID, juror_id: str) -> bool:
        """Unassign a juror; their scorecard for the case goes with it (foreign key cascade)."""
        result = await self._conn.execute(
            "DELETE FROM assignments WHERE case_id = $1 AND juror_id = $2", case_id, juror_id
        )
        return result.endswith(" 1")

    async def recused_jurors(self, case_id: uuid.UUID) -> set[str]:
        rows = await self._conn.fetch("SELECT juror_id FROM recusals WHERE case_id = $1", case_id)
        return {r["juror_id"] for r in rows}

    async def add_recusal(self, *, case_id: uuid.UUID, juror_id: str, reason: str) -> None:
        await self._conn.execute(
            """
            INSERT INTO recusals (case_id, juror_id, reason) VALUES ($1, $2, $3)
            ON CONFLICT (case_id, juror_id) DO UPDATE SET reason = EXCLUDED.reason, declared_at = now()
            """,
            case_id,
            juror_id,
            reason,
        )

    # ----------------------------------------------------------------------- scorecards

    async def save_scorecard(
        self, *, case_id: uuid.UUID, juror_id: str, scores: Sequence[ScoreEntry], overall_comment: str
    ) -> Scorecard:
        """Store a juror's scores for a case, replacing any earlier submission; returns the stored scorecard."""
        row = await self._conn.fetchrow(
            """
            INSERT INTO scorecards (case_id, juror_id, scores, overall_comment) VALUES ($1, $2, $3, $4)
            ON CONFLICT (case_id, juror_id) DO UPDATE
                SET scores = EXCLUDED.scores, overall_comment = EXCLUDED.overall_comment, submitted_at = now()
            RETURNING *
            """,
            case_id,
            juror_id,
            [{"criterion": s.criterion, "score": s.score, "comment": s.comment} for s in scores],
            overall_comment,
        )
        assert row is not None
        return _scorecard(row)

    async def scorecards(self, case_id: uuid.UUID) -> list[Scorecard]:
        rows = await self._conn.fetch(
            "SELECT * FROM scorecards WHERE case_id = $1 ORDER BY submitted_at, juror_id", case_id
        )
        return [_scorecard(r) for r in rows]

    async def scored_cases(self, call_id: uuid.UUID) -> list[ScoredCase]:
        """Every live evaluation of the call with its assigned-juror count and scorecards, for the leaderboard."""
        rows = await self._conn.fetch(
            """
            SELECT e.case_id, e.title, e.category, e.criteria,
                   (SELECT count(*) FROM assignments a WHERE a.case_id = e.case_id) AS jurors_assigned,
                   coalesce((SELECT jsonb_object_agg(s.juror_id, s.scores) FROM scorecards s
                             WHERE s.case_id = e.case_id), '{}'::jsonb) AS scorecards
            FROM evaluations e
            WHERE e.call_id = $1 AND e.status <> $2
            ORDER BY e.opened_at, e.case_id
            """,
            call_id,
            _WITHDRAWN,
        )
        return [
            ScoredCase(
                case_id=r["case_id"],
                title=r["title"],
                category=r["category"],
                criteria=_criteria(r["criteria"]),
                jurors_assigned=int(r["jurors_assigned"]),
                scorecards={
                    juror_id: {s["criterion"]: int(s["score"]) for s in scores}
                    for juror_id, scores in r["scorecards"].items()
                },
            )
            for r in rows
        ]

    # ----------------------------------------------------------------------- a juror's work list

    async def juror_assignments(
        self, *, juror_id: str, status: EvaluationStatus | None, limit: int, offset: int
    ) -> tuple[list[Assignment], int]:
        where = "a.juror_id = $1 AND ($2::text IS NULL OR e.status = $2)"
        status_value = status.value if status else None
        total = await self._conn.fetchval(
            f"SELECT count(*) FROM assignments a JOIN evaluations e USING (case_id) WHERE {where}",  # noqa: S608
            juror_id,
            status_value,
        )
        rows = await self._conn.fetch(
            f"""
            SELECT {_ASSIGNMENT_COLUMNS}
            FROM assignments a JOIN evaluations e USING (case_id)
            LEFT JOIN scorecards s ON s.case_id = a.case_id AND s.juror_id = a.juror_id
            WHERE {where}
            ORDER BY a.assigned_at, e.case_id LIMIT $3 OFFSET $4
            """,  # noqa: S608
            juror_id,
            status_value,
            limit,
            offset,
        )
        return [_assignment(r, juror_id) for r in rows], int(total)

    async def juror_assignment(self, *, juror_id: str, case_id: uuid.UUID) -> Assignment | None:
        """One evaluation on the juror's work list; None when the juror is not assigned to the case."""
        row = await self._conn.fetchrow(
            f"""
            SELECT {_ASSIGNMENT_COLUMNS}
            FROM assignments a JOIN evaluations e USING (case_id)
            LEFT JOIN scorecards s ON s.case_id = a.case_id AND s.juror_id = a.juror_id
            WHERE a.juror_id = $1 AND a.case_id = $2
            """,  # noqa: S608
            juror_id,
            case_id,
        )
        return _assignment(row, juror_id) if row is not None else None

    # ----------------------------------------------------------------------- what jurors read of a case

    async def save_case_content(self, *, case_id: uuid.UUID, call_id: uuid.UUID, content: CaseContent) -> None:
        """Keep the case's content; an older revision arriving late never replaces a newer one."""
        await self._conn.execute(
            """
            INSERT INTO case_content (case_id, call_id, revision, content) VALUES ($1, $2, $3, $4)
            ON CONFLICT (case_id) DO UPDATE
                SET revision = EXCLUDED.revision, content = EXCLUDED.content, updated_at = now()
                WHERE case_content.revision < EXCLUDED.revision
            """,
            case_id,
            call_id,
            content.revision,
            _content_json(content),
        )

    async def record_revision_note(self, *, case_id: uuid.UUID, note: RevisionNote) -> None:
        await self._conn.execute(
            """
            INSERT INTO case_revision_notes (case_id, revision, change_note, addressed_points, received_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (case_id, revision) DO NOTHING
            """,
            case_id,
            note.revision,
            note.change_note,
            list(note.addressed_points),
            note.received_at,
        )

    async def record_round_opened(self, *, case_id: uuid.UUID, opened: RoundOpened) -> None:
        await self._conn.execute(
            """
            INSERT INTO review_rounds (case_id, iteration, stage, revision, opened_at) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (case_id, iteration) DO UPDATE
                SET stage = EXCLUDED.stage, revision = EXCLUDED.revision, opened_at = EXCLUDED.opened_at
            """,
            case_id,
            opened.iteration,
            opened.stage.value,
            opened.revision,
            opened.at,
        )

    async def record_round_settled(self, *, case_id: uuid.UUID, settled: RoundSettled) -> None:
        await self._conn.execute(
            """
            INSERT INTO review_rounds (case_id, iteration, stage, outcome, comment, feedback, settled_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (case_id, iteration) DO UPDATE
                SET stage = coalesce(review_rounds.stage, EXCLUDED.stage), outcome = EXCLUDED.outcome,
                    comment = EXCLUDED.comment, feedback = EXCLUDED.feedback, settled_at = EXCLUDED.settled_at
            """,
            case_id,
            settled.iteration,
            settled.stage.value if settled.stage is not None else None,
            settled.outcome.value,
            settled.comment,
            [f.model_dump(mode="json") for f in settled.feedback],
            settled.at,
        )

    async def dossiers(self, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Dossier]:
        """What jurors read of each case: content, review rounds and revision notes (empty parts when unknown)."""
        ids = list(case_ids)
        contents = {
            r["case_id"]: _content(r["content"])
            for r in await self._conn.fetch(
                "SELECT case_id, content FROM case_content WHERE case_id = ANY($1::uuid[])", ids
            )
        }
        rounds: dict[uuid.UUID, list[ReviewRound]] = {i: [] for i in ids}
        for r in await self._conn.fetch(
            "SELECT * FROM review_rounds WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, iteration", ids
        ):
            rounds[r["case_id"]].append(_round(r))
        notes: dict[uuid.UUID, list[RevisionNote]] = {i: [] for i in ids}
        for r in await self._conn.fetch(
            "SELECT * FROM case_revision_notes WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, revision", ids
        ):
            notes[r["case_id"]].append(
                RevisionNote(
                    revision=r["revision"],
                    change_note=r["change_note"],
                    addressed_points=tuple(r["addressed_points"]),
                    received_at=r["received_at"],
                )
            )
        return {i: Dossier(content=contents.get(i), rounds=tuple(rounds[i]), revisions=tuple(notes[i])) for i in ids}

"""Intake's rules, free of I/O: business IDs, title normalisation, calls and cases, status transitions,
and the refusals the use cases raise (api.py maps them to HTTP statuses)."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.errors import Conflict, Invalid
from shared.events import (
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseSnapshot,
    ChangesRequestedV1,
    EvaluationOpenedV1,
    EventPayload,
    IterationEscalatedV1,
    IterationOpenedV1,
    ResultsPublishedV1,
    StageAdvancedV1,
)
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language

# --------------------------------------------------------------------------- refusals

# Refusals are shared.errors' NotFound (404), Conflict (409) and Invalid (422); shared.service maps them to HTTP.


# --------------------------------------------------------------------------- business ID (Y-tunnus)

_BUSINESS_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def business_id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid Finnish business ID (Y-tunnus ``NNNNNNN-N``), or None when it is."""
    if len(value) != 9 or value[7] != "-" or not (value[:7].isdigit() and value[8].isdigit()) or not value.isascii():
        return f"business ID {value!r} is not in the form NNNNNNN-N (seven digits, a hyphen, a check digit)"
    remainder = sum(int(d) * w for d, w in zip(value[:7], _BUSINESS_ID_WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return f"business ID {value!r} is invalid: no valid check digit exists for {value[:7]}"
    expected = 0 if remainder == 0 else 11 - remainder
    if int(value[8]) != expected:
        return f"business ID {value!r} has a wrong check digit (expected {expected})"
    return None


# --------------------------------------------------------------------------- titles


def title_key(title: str) -> str:
    """The form under which two titles count as near-identical: case-, whitespace- and punctuation-blind.

    NFKC folds compatibility characters (full-width letters, ligatures); only letters and digits
    survive, so "Smart Library!" and "smart-library" collide, while ä and a stay distinct (Finnish).
    """
    folded = unicodedata.normalize("NFKC", title).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


# --------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class Call:
    id: uuid.UUID
    title: str
    description: str
    opens_at: datetime
    closes_at: datetime
    categories: list[Category]
    languages: list[Language]
    reviewers_per_iteration: int
    created_by: str
    created_at: datetime


def call_is_open(*, opens_at: datetime, closes_at: datetime, now: datetime) -> bool:
    return opens_at <= now < closes_at


def call_closed_reason(*, call_id: str, opens_at: datetime, closes_at: datetime, now: datetime) -> str | None:
    """Why a call takes no submissions at ``now``, or None when it is open."""
    if now < opens_at:
        return f"call {call_id} is closed for submissions (opens at {opens_at.isoformat()})"
    if now >= closes_at:
        return f"call {call_id} is closed for submissions (closed at {closes_at.isoformat()})"
    return None


def ensure_fits_call(call: Call, *, category: Category, language: Language, now: datetime) -> None:
    """Refuse a submission the call does not take: outside its window, or a category/language it does not list."""
    closed = call_closed_reason(call_id=str(call.id), opens_at=call.opens_at, closes_at=call.closes_at, now=now)
    if closed is not None:
        raise Conflict(error="call_closed", message=closed)
    if category not in call.categories:
        allowed = ", ".join(c.value for c in call.categories)
        raise Invalid(
            error="category_not_in_call",
            message=f"category {category.value!r} is not one of the call's categories ({allowed})",
        )
    if language not in call.languages:
        allowed = ", ".join(lang.value for lang in call.languages)
        raise Invalid(
            error="language_not_in_call",
            message=f"language {language.value!r} is not one of the call's languages ({allowed})",
        )


# --------------------------------------------------------------------------- case status


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    REVISED = "revised"
    NOMINATED = "nominated"
    IN_EVALUATION = "in_evaluation"
    DECIDED = "decided"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


FINAL_STATUSES = frozenset({CaseStatus.DECIDED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN})

# How far along a status is. A case never moves to a lower phase: an event that would do so
# arrived late (topics are ordered per case, but review and awards are two topics).
_PHASE = {
    CaseStatus.SUBMITTED: 0,
    CaseStatus.IN_REVIEW: 0,
    CaseStatus.CHANGES_REQUESTED: 0,
    CaseStatus.REVISED: 0,
    CaseStatus.NOMINATED: 1,
    CaseStatus.IN_EVALUATION: 2,
    CaseStatus.DECIDED: 3,
    CaseStatus.REJECTED: 3,
    CaseStatus.WITHDRAWN: 3,
}


class TransitionRefused(Conflict):
    """A submitter action the case's status does not allow."""


def ensure_revisable(status: CaseStatus) -> None:
    if status is not CaseStatus.CHANGES_REQUESTED:
        raise TransitionRefused(
            error="not_revisable",
            message=f"the case can be revised only when changes are requested; its status is {status.value!r}",
        )


def ensure_withdrawable(status: CaseStatus) -> None:
    if status in FINAL_STATUSES:
        raise TransitionRefused(
            error="not_withdrawable", message=f"the case can no longer be withdrawn; its status is {status.value!r}"
        )


@dataclass(frozen=True)
class CaseProgress:
    """Where a case stands, as intake tracks it from its own actions and the review/awards events."""

    status: CaseStatus
    stage: IsoStage
    iteration: int = 0
    outcome: AwardOutcome | None = None
    feedback: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    summary: str
    iteration: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredCase:
    """A case as intake keeps it: the current revision's content and where the case stands."""

    snapshot: CaseSnapshot
    progress: CaseProgress
    request_fingerprint: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> uuid.UUID:
        return self.snapshot.case_id

    @property
    def submitter_id(self) -> str:
        return self.snapshot.submitter_id

    @property
    def revision(self) -> int:
        return self.snapshot.revision


# --------------------------------------------------------------------------- submitter actions


def ensure_same_request(earlier: StoredCase, *, fingerprint: str, key: str) -> None:
    """An Idempotency-Key replays its first request only; another body under the same key is a client bug."""
    if earlier.request_fingerprint != fingerprint:
        raise Conflict(
            error="idempotency_key_reused",
            message=f"Idempotency-Key {key!r} was already used for case {earlier.id} with a different request body; "
            "use a new key for a new submission",
        )


def duplicate_title(existing: StoredCase | None, *, submitter_id: str) -> Conflict:
    # Naming the other case is only safe when it is the caller's own.
    if existing is not None and existing.submitter_id == submitter_id:
        return Conflict(
            error="duplicate_case",
            message=f"you already submitted a case with a near-identical title to this call: {existing.id}",
            existing_case_id=str(existing.id),
        )
    return Conflict(error="duplicate_case", message="a case with a near-identical title already exists in this call")


def revised_snapshot(current: CaseSnapshot, changes: dict[str, Any]) -> CaseSnapshot:
    """The next revision: the edited fields (in snapshot form) over the current content."""
    return CaseSnapshot.model_validate({**current.model_dump(mode="json"), **changes, "revision": current.revision + 1})


def submitted_entry(*, call_title: str) -> TimelineEntry:
    return TimelineEntry("submitted", f"Submitted to {call_title!r}", None, {"revision": 1})


def revised_entry(*, revision: int, changed: Iterable[str], change_note: str, iteration: int) -> TimelineEntry:
    return TimelineEntry(
        "revised",
        f"Revision {revision} submitted" + (f": {change_note}" if change_note else ""),
        iteration or None,
        {"revision": revision, "changed": sorted(changed), "change_note": change_note},
    )


def withdrawn_entry(*, reason: str) -> TimelineEntry:
    return TimelineEntry(
        "withdrawn", "Withdrawn by the submitter" + (f": {reason}" if reason else ""), None, {"reason": reason}
    )


# --------------------------------------------------------------------------- review and awards events


@dataclass(frozen=True)
class Transition:
    progress: CaseProgress
    entry: TimelineEntry
    # False when the event was late or the case already final: recorded in the timeline, status kept.
    applied: bool = True


def _move(current: CaseProgress, proposed: CaseProgress, *, iteration: int | None) -> tuple[CaseProgress, bool]:
    """Accept ``proposed`` unless it would move the case back (a stale, out-of-order event)."""
    if current.status in FINAL_STATUSES and not (
        current.status is CaseStatus.DECIDED and proposed.status is CaseStatus.DECIDED
    ):
        return current, False
    if _PHASE[proposed.status] < _PHASE[current.status]:
        return current, False
    if iteration is not None and iteration < current.iteration:
        return current, False
    return proposed, True


def apply_event(current: CaseProgress, payload: EventPayload) -> Transition:
    """The effect of one review or awards event on a case: its new progress and a timeline entry."""
    kind = payload.event_type
    match payload:
        case IterationOpenedV1(iteration=iteration, stage=stage, revision=revision, due_at=due_at):
            proposed = replace(current, status=CaseStatus.IN_REVIEW, stage=stage, iteration=iteration)
            entry = TimelineEntry(
                kind,
                f"Review iteration {iteration} opened at the {stage.value} stage (revision {revision})",
                iteration,
                {"stage": stage.value, "revision": revision, "due_at": due_at.isoformat()},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case ChangesRequestedV1(iteration=iteration, comment=comment, feedback=feedback):
            proposed = replace(current, status=CaseStatus.CHANGES_REQUESTED, iteration=iteration)
            entry = TimelineEntry(
                kind,
                f"Changes requested in iteration {iteration}: {comment}",
                iteration,
                {"comment": comment, "feedback": [f.model_dump(mode="json") for f in feedback]},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case StageAdvancedV1(iteration=iteration, from_stage=from_stage, to_stage=to_stage, comment=comment):
            proposed = replace(current, status=CaseStatus.IN_REVIEW, stage=to_stage, iteration=iteration)
            entry = TimelineEntry(
                kind,
                f"Advanced from the {from_stage.value} to the {to_stage.value} stage",
                iteration,
                {"from_stage": from_stage.value, "to_stage": to_stage.value, "comment": comment},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case CaseRejectedV1(iteration=iteration, comment=comment, feedback=feedback):
            proposed = replace(current, status=CaseStatus.REJECTED, iteration=iteration)
            entry = TimelineEntry(
                kind,
                f"Rejected in review iteration {iteration}: {comment}",
                iteration,
                {"comment": comment, "feedback": [f.model_dump(mode="json") for f in feedback]},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case CaseNominatedV1(iteration=iteration, comment=comment, stage=stage):
            proposed = replace(current, status=CaseStatus.NOMINATED, stage=stage, iteration=iteration)
            entry = TimelineEntry(
                kind,
                "Nominated for award evaluation",
                iteration,
                {"comment": comment, "stage": stage.value},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case IterationEscalatedV1(iteration=iteration, due_at=due_at):
            entry = TimelineEntry(
                kind,
                f"Review iteration {iteration} is overdue and was escalated",
                iteration,
                {"due_at": due_at.isoformat()},
            )
            progress, applied = current, True
        case EvaluationOpenedV1(criteria=criteria, juror_ids=juror_ids):
            proposed = replace(current, status=CaseStatus.IN_EVALUATION)
            entry = TimelineEntry(
                kind,
                f"Award evaluation opened with {len(criteria)} criteria",
                None,
                {"criteria": [c.key for c in criteria], "jurors": len(juror_ids)},
            )
            progress, applied = _move(current, proposed, iteration=None)
        case AwardDecidedV1(outcome=outcome, feedback=feedback, weighted_score=score, rank_in_category=rank):
            proposed = replace(current, status=CaseStatus.DECIDED, outcome=outcome, feedback=feedback)
            entry = TimelineEntry(
                kind,
                f"Award decision: {outcome.value.replace('_', ' ')}",
                None,
                {"outcome": outcome.value, "feedback": feedback, "weighted_score": score, "rank_in_category": rank},
            )
            progress, applied = _move(current, proposed, iteration=None)
        case ResultsPublishedV1(outcome=outcome):
            entry = TimelineEntry(kind, "Results published", None, {"outcome": outcome.value})
            progress, applied = current, True
        case _:
            raise ValueError(f"intake does not track {payload.event_type}")
    return Transition(progress=progress, entry=entry, applied=applied)

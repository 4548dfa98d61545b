"""Intake's rules, free of I/O: business IDs, title normalisation, calls and cases, status transitions,
the commands the use cases take, and the refusals they raise (shared/http_errors.py maps them to HTTP)."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.errors import Conflict, Invalid, Problem
from shared.events import (
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseSnapshot,
    ChangesRequestedV1,
    Contact,
    EvaluationOpenedV1,
    EventPayload,
    IterationEscalatedV1,
    IterationOpenedV1,
    Organisation,
    ResultsPublishedV1,
    StageAdvancedV1,
)
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language, OecdPrinciple

# --------------------------------------------------------------------------- refusals

# Refusals are shared.errors' NotFound (404), Conflict (409) and Invalid (422); shared/http_errors.py maps them
# to HTTP.


# --------------------------------------------------------------------------- business ID (Y-tunnus)

_BUSINESS_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
BUSINESS_ID_PATTERN = r"^[0-9]{7}-[0-9]$"
BUSINESS_ID_CHECK_DIGIT_RULE = (
    f"Its check digit: multiply the seven digits by {', '.join(map(str, _BUSINESS_ID_WEIGHTS))} and add the products; "
    "with r the remainder of that sum divided by 11, the check digit is 0 when r is 0 and 11 - r otherwise "
    "(no business ID has r = 1)."
)


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


@dataclass(frozen=True)
class NewCall:
    """An operator's new call for cases, before it has an id."""

    title: str
    description: str
    opens_at: datetime
    closes_at: datetime
    categories: tuple[Category, ...]
    languages: tuple[Language, ...]
    reviewers_per_iteration: int


def call_window_problem(*, opens_at: datetime, closes_at: datetime) -> str | None:
    """Why a call's submission window is no window, or None when it is one."""
    if closes_at <= opens_at:
        return "closes_at must be after opens_at"
    return None


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
class TimelineItem:
    """One entry of a case's timeline as recorded: what happened, and when."""

    at: datetime
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


# --------------------------------------------------------------------------- submitter commands


def oecd_principles_problems(principles: Sequence[OecdPrinciple]) -> list[Problem]:
    """What is wrong with a case's OECD principles (empty when fine): each one listed once."""
    repeated = sorted({p for p in principles if principles.count(p) > 1})
    if repeated:
        listed = ", ".join(str(p.value) for p in repeated)
        return [Problem("oecd_principles", f"each OECD principle may be listed only once; repeated: {listed}")]
    return []


@dataclass(frozen=True)
class CaseDraft:
    """A submission's content as the submitter wrote it; the id, the call's details and the submitter come
    from elsewhere."""

    call_id: uuid.UUID
    title: str
    summary: str
    problem: str
    solution: str
    organisation: Organisation
    category: Category
    language: Language
    oecd_principles: tuple[OecdPrinciple, ...]
    iso_stage: IsoStage
    team: tuple[Contact, ...] = ()
    partners: tuple[Contact, ...] = ()
    drivers: tuple[str, ...] = ()
    obstacles: tuple[str, ...] = ()


_DRAFT_JSON: TypeAdapter[CaseDraft] = TypeAdapter(CaseDraft)


def request_fingerprint(draft: CaseDraft) -> str:
    """A digest of the submission's content: an Idempotency-Key retry must carry the same one."""
    return hashlib.sha256(_DRAFT_JSON.dump_json(draft)).hexdigest()


@dataclass(frozen=True)
class CaseChanges:
    """The content a revision edits; a field left None stays as it was."""

    title: str | None = None
    summary: str | None = None
    problem: str | None = None
    solution: str | None = None
    team: tuple[Contact, ...] | None = None
    partners: tuple[Contact, ...] | None = None
    iso_stage: IsoStage | None = None
    drivers: tuple[str, ...] | None = None
    obstacles: tuple[str, ...] | None = None
    oecd_principles: tuple[OecdPrinciple, ...] | None = None

    def edited(self) -> dict[str, Any]:
        """The edited fields by name, with their new values."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Revision:
    """A submitter's revision of their case: what changes, and their note on why."""

    changes: CaseChanges
    change_note: str = ""


def submitter_contact(*, user_id: str, name: str, email: str, language: Language) -> Contact:
    """The submitter's contact, from their token; without a usable email nobody could be notified."""
    if not email:
        raise Invalid(
            error="submitter_email_missing",
            message="your token carries no email address; the submitter contact needs one for notifications",
        )
    try:
        return Contact(name=name or user_id, email=email, language=language)
    except ValidationError as exc:
        raise Invalid(
            error="submitter_email_invalid",
            message=f"the email address in your token ({email!r}) is not valid",
        ) from exc


def first_snapshot(
    draft: CaseDraft, *, case_id: uuid.UUID, call: Call, submitter_id: str, submitter: Contact
) -> CaseSnapshot:
    """Revision 1 of a new case: the draft, with the call's title and review settings and the submitter."""
    return CaseSnapshot(
        case_id=case_id,
        call_id=call.id,
        call_title=call.title,
        revision=1,
        reviewers_per_iteration=call.reviewers_per_iteration,
        title=draft.title,
        summary=draft.summary,
        problem=draft.problem,
        solution=draft.solution,
        organisation=draft.organisation,
        submitter_id=submitter_id,
        submitter=submitter,
        team=list(draft.team),
        partners=list(draft.partners),
        category=draft.category,
        language=draft.language,
        oecd_principles=[p.value for p in draft.oecd_principles],
        iso_stage=draft.iso_stage,
        drivers=list(draft.drivers),
        obstacles=list(draft.obstacles),
    )


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


def ensure_title_free(existing: StoredCase | None, *, submitter_id: str) -> None:
    """Refuse a title a live case of the call already holds (``existing``, if the lookup found one)."""
    if existing is not None:
        raise duplicate_title(existing, submitter_id=submitter_id)


def revised_snapshot(current: CaseSnapshot, changes: CaseChanges) -> CaseSnapshot:
    """The next revision: the edited fields over the current content."""
    edited = {
        name: [p.value if isinstance(p, OecdPrinciple) else p for p in value] if isinstance(value, tuple) else value
        for name, value in changes.edited().items()
    }
    return CaseSnapshot.model_validate({**current.model_dump(), **edited, "revision": current.revision + 1})


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


# Every review and awards event intake tracks: each is applied alike, the differences live in apply_event.
TrackedEvent = (
    IterationOpenedV1
    | ChangesRequestedV1
    | StageAdvancedV1
    | CaseRejectedV1
    | CaseNominatedV1
    | IterationEscalatedV1
    | EvaluationOpenedV1
    | AwardDecidedV1
    | ResultsPublishedV1
)


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

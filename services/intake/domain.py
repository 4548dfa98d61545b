"""Intake's rules, free of I/O: business IDs, title normalisation, calls and cases, status transitions,
the commands the use cases take, and the refusals they raise (shared/http_errors.py maps them to HTTP)."""

from __future__ import annotations

import functools
import hashlib
import unicodedata
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.errors import Conflict, Invalid, Problem
from shared.events import (
    QUALITY_INNOVATION_AWARD_CRITERIA,
    AwardDecidedV1,
    CallAnnouncedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseSnapshot,
    ChangesRequestedV1,
    Contact,
    Criterion,
    EvaluationOpenedV1,
    EventPayload,
    IterationEscalatedV1,
    IterationOpenedV1,
    Organisation,
    ResultsPublishedV1,
    StageAdvancedV1,
    criteria_problems,
)
from shared.feedback import OPEN, PointState, PointStatus
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language, OecdPrinciple, Role

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
    criteria: tuple[Criterion, ...]
    # 1 when created, one more per change: the revision each CallAnnouncedV1 carries.
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime


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
    criteria: tuple[Criterion, ...] = QUALITY_INNOVATION_AWARD_CRITERIA


@dataclass(frozen=True)
class CallChanges:
    """An operator's change to a call; a field left None stays as it was.

    The title and the number of reviewers are not among them: submitted cases carry both in their snapshots.
    """

    description: str | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    categories: tuple[Category, ...] | None = None
    languages: tuple[Language, ...] | None = None
    criteria: tuple[Criterion, ...] | None = None

    def edited(self) -> dict[str, Any]:
        """The edited fields by name, with their new values."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def call_window_problem(*, opens_at: datetime, closes_at: datetime) -> str | None:
    """Why a call's submission window is no window, or None when it is one."""
    if closes_at <= opens_at:
        return "closes_at must be after opens_at"
    return None


def ensure_usable_criteria(criteria: Sequence[Criterion]) -> None:
    """Refuse criteria nobody could score against: a key twice, or a scale that is no range."""
    problems = criteria_problems(criteria)
    if problems:
        raise Invalid.of(problems)


def changed_call(call: Call, changes: CallChanges) -> Call:
    """The call with an operator's changes, at its next revision; refused (422) if the result is no call.

    The window is checked as it will stand, so moving one end alone must still leave it a window.
    """
    edited = changes.edited()
    if not edited:
        raise Invalid(
            error="nothing_to_change",
            message="name at least one of description, opens_at, closes_at, categories, languages, criteria",
        )
    changed = replace(
        call,
        description=changes.description if changes.description is not None else call.description,
        opens_at=changes.opens_at or call.opens_at,
        closes_at=changes.closes_at or call.closes_at,
        categories=list(changes.categories) if changes.categories is not None else call.categories,
        languages=list(changes.languages) if changes.languages is not None else call.languages,
        criteria=changes.criteria if changes.criteria is not None else call.criteria,
        revision=call.revision + 1,
    )
    problem = call_window_problem(opens_at=changed.opens_at, closes_at=changed.closes_at)
    if problem is not None:
        field_name = "closes_at" if changes.closes_at is not None else "opens_at"
        raise Invalid.of([Problem(field_name, problem)])
    ensure_usable_criteria(changed.criteria)
    return changed


def call_announcement(call: Call) -> CallAnnouncedV1:
    """The call as review and awards learn it: the whole call at its revision."""
    return CallAnnouncedV1(
        call_id=call.id,
        revision=call.revision,
        title=call.title,
        description=call.description,
        opens_at=call.opens_at,
        closes_at=call.closes_at,
        categories=list(call.categories),
        languages=list(call.languages),
        reviewers_per_iteration=call.reviewers_per_iteration,
        criteria=list(call.criteria),
    )


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
    DECIDED = "decided"  # the jury has decided; embargoed: its submitter still sees in_evaluation
    PUBLISHED = "published"  # the call's results are out: the submitter sees the outcome and feedback
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# A decided case is not final: the decision may still change, and its submitter may still withdraw it (they
# cannot know it is decided, so nothing they do may behave differently than for a case in evaluation).
FINAL_STATUSES = frozenset({CaseStatus.PUBLISHED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN})

# How far along a status is. A case never moves to a lower phase: an event that would do so
# arrived late (topics are ordered per case, but review and awards are two topics).
_PHASE = {
    CaseStatus.SUBMITTED: 0,
    CaseStatus.IN_REVIEW: 0,
    CaseStatus.CHANGES_REQUESTED: 0,
    CaseStatus.REVISED: 0,
    CaseStatus.NOMINATED: 1,
    CaseStatus.IN_EVALUATION: 2,
    CaseStatus.REJECTED: 3,
    CaseStatus.WITHDRAWN: 3,
    # Not final, yet past review: only award events move a decided case on.
    CaseStatus.DECIDED: 4,
    CaseStatus.PUBLISHED: 5,
}


class FunnelStage(StrEnum):
    """The operator dashboard's funnel: a case's status grouped into the stages an operator follows, in order, and
    the two ways out beside them."""

    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"  # with review, the changes asked for and the revision included
    NOMINATED = "nominated"  # with the jury until it decides
    DECIDED = "decided"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"


FUNNEL_STAGE: dict[CaseStatus, FunnelStage] = {
    CaseStatus.SUBMITTED: FunnelStage.SUBMITTED,
    CaseStatus.IN_REVIEW: FunnelStage.IN_REVIEW,
    CaseStatus.CHANGES_REQUESTED: FunnelStage.IN_REVIEW,
    CaseStatus.REVISED: FunnelStage.IN_REVIEW,
    CaseStatus.NOMINATED: FunnelStage.NOMINATED,
    CaseStatus.IN_EVALUATION: FunnelStage.NOMINATED,
    CaseStatus.DECIDED: FunnelStage.DECIDED,
    CaseStatus.PUBLISHED: FunnelStage.PUBLISHED,
    CaseStatus.WITHDRAWN: FunnelStage.WITHDRAWN,
    CaseStatus.REJECTED: FunnelStage.REJECTED,
}

# The stages a case leaves again, whose time a case spends in them the dashboard measures (the others are final).
TIMED_STAGES: tuple[FunnelStage, ...] = (
    FunnelStage.SUBMITTED,
    FunnelStage.IN_REVIEW,
    FunnelStage.NOMINATED,
    FunnelStage.DECIDED,
)


class TransitionRefused(Conflict):
    """A submitter action the case's status does not allow."""


# Only a case's submitter revises or withdraws it, so a refusal names the status as they see it.


def ensure_revisable(status: CaseStatus) -> None:
    if status is not CaseStatus.CHANGES_REQUESTED:
        shown = shown_status(Viewer.SUBMITTER, status)
        raise TransitionRefused(
            error="not_revisable",
            message=f"the case can be revised only when changes are requested; its status is {shown.value!r}",
        )


def ensure_withdrawable(status: CaseStatus) -> None:
    if status in FINAL_STATUSES:
        shown = shown_status(Viewer.SUBMITTER, status)
        raise TransitionRefused(
            error="not_withdrawable", message=f"the case can no longer be withdrawn; its status is {shown.value!r}"
        )


@dataclass(frozen=True)
class CaseProgress:
    """Where a case stands, as intake tracks it from its own actions and the review/awards events."""

    status: CaseStatus
    stage: IsoStage
    iteration: int = 0
    outcome: AwardOutcome | None = None
    feedback: str | None = None


class TimelineKind(StrEnum):
    """What a timeline entry records, in one vocabulary: the submitter's actions and the review and awards events."""

    SUBMITTED = "submitted"
    REVISED = "revised"
    WITHDRAWN = "withdrawn"
    ITERATION_OPENED = "iteration_opened"
    CHANGES_REQUESTED = "changes_requested"
    STAGE_ADVANCED = "stage_advanced"
    REJECTED = "rejected"
    NOMINATED = "nominated"
    ESCALATED = "escalated"
    EVALUATION_OPENED = "evaluation_opened"
    DECIDED = "decided"
    RESULTS_PUBLISHED = "results_published"


@dataclass(frozen=True)
class TimelineEntry:
    kind: TimelineKind
    summary: str
    iteration: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def item(self, *, at: datetime) -> TimelineItem:
        """The entry as recorded at ``at``."""
        return TimelineItem(at=at, kind=self.kind, summary=self.summary, iteration=self.iteration, details=self.details)


@dataclass(frozen=True)
class TimelineItem:
    """One entry of a case's timeline as recorded: what happened, and when."""

    at: datetime
    kind: TimelineKind
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


# --------------------------------------------------------------------------- the embargo: who sees what


class Viewer(StrEnum):
    """Whom a case is shown to: its submitter (the owner), or an operator (everything, always)."""

    SUBMITTER = "submitter"
    OPERATOR = "operator"


def viewer_of(roles: Collection[Role]) -> Viewer:
    """An operator sees a case as an operator; anyone else who may see it at all is its submitter."""
    return Viewer.OPERATOR if Role.OPERATOR in roles else Viewer.SUBMITTER


# The timeline entries a submitter never sees: the jury's decision carries score and rank, and before
# publication the outcome itself. The released result is the results_published entry.
SUBMITTER_HIDDEN_ENTRIES = frozenset({TimelineKind.DECIDED})


def shown_status(viewer: Viewer, status: CaseStatus) -> CaseStatus:
    """The status ``viewer`` is shown for a case whose status is ``status``."""
    match viewer, status:
        case Viewer.SUBMITTER, CaseStatus.DECIDED:
            return CaseStatus.IN_EVALUATION  # until the call's results are published
        case _:
            return status


def statuses_shown_as(viewer: Viewer, status: CaseStatus) -> frozenset[CaseStatus]:
    """The statuses ``viewer`` is shown as ``status`` (the inverse of ``shown_status``, for filtering lists)."""
    return frozenset(s for s in CaseStatus if shown_status(viewer, s) is status)


def seen_by(
    viewer: Viewer, case: StoredCase, timeline: Sequence[TimelineItem] = ()
) -> tuple[StoredCase, list[TimelineItem]]:
    """What ``viewer`` may see of a case and its timeline: the embargo on the jury's decision.

    Operators see everything. A submitter sees no outcome, feedback, score or rank and no ``decided`` status
    until the call's results are published (the case reads ``in_evaluation`` until then), and then the
    outcome and the jury's feedback as published; the decision entries of the timeline (with score and rank)
    never.
    """
    match viewer:
        case Viewer.OPERATOR:
            return case, list(timeline)
        case Viewer.SUBMITTER:
            released = case.progress.status is CaseStatus.PUBLISHED
            progress = replace(
                case.progress,
                status=shown_status(viewer, case.progress.status),
                outcome=case.progress.outcome if released else None,
                feedback=case.progress.feedback if released else None,
            )
            visible = [item for item in timeline if item.kind not in SUBMITTER_HIDDEN_ENTRIES]
            return replace(case, progress=progress), visible


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
    """The content a revision edits; a field left None stays as it was.

    The organisation is not among them: it is the submitter's token's, fixed when the case is filed.
    """

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
    """A submitter's revision of their case: what changes, their note on why, and the feedback points it addresses."""

    changes: CaseChanges
    change_note: str = ""
    addresses: tuple[uuid.UUID, ...] = ()


def submitter_contact(*, user_id: str, name: str, email: str, language: Language) -> Contact:
    """The submitter's contact, from their token; without a usable email nobody could be notified."""
    if not email:
        raise Invalid(
            error="submitter_email_missing",
            message="your token carries no email address; the submitter contact needs one for notifications",
        )
    try:
        return _contact(name or user_id, email, language)
    except ValidationError as exc:
        raise Invalid(
            error="submitter_email_invalid",
            message=f"the email address in your token ({email!r}) is not valid",
        ) from exc


@functools.lru_cache(maxsize=4096)
def _contact(name: str, email: str, language: Language) -> Contact:
    """A submitter's contact, kept for their next submission: validating the email (EmailStr, email-validator) was
    about a tenth of a submission's Python work, and a submitter sends the same token's claims every time. Contact
    is frozen, so the one instance may be shared; a refusal (ValidationError) is not kept, and is raised again."""
    return Contact(name=name, email=email, language=language)


def ensure_own_organisation(organisation: Organisation, *, token_organisation: str) -> None:
    """A case is filed for the submitter's own organisation, the one their token carries: the reviewers' and
    jurors' conflict-of-interest rules rely on it, so a body may not name another."""
    if organisation.id != token_organisation:
        problem = (
            f"your token carries organisation {token_organisation!r}; a case is always filed for it, "
            f"so organisation.id may not be {organisation.id!r} (leave it out)"
        )
        raise Invalid(error="organisation_not_yours", message=problem, problems=[Problem("organisation.id", problem)])


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
    """The refusal of a title a live case of the submitter's organisation holds in the call.

    Only the caller's own case is named: a colleague's case is one they cannot open (cases are visible to
    their submitter only), so its id would tell them nothing they may use. Other organisations' titles are
    never compared, so nothing here can reveal them.
    """
    if existing is not None and existing.submitter_id == submitter_id:
        return Conflict(
            error="duplicate_case",
            message=f"you already submitted a case with a near-identical title to this call: {existing.id}",
            existing_case_id=str(existing.id),
        )
    return Conflict(
        error="duplicate_case",
        message="your organisation already has a case with a near-identical title in this call",
    )


def ensure_title_free(existing: StoredCase | None, *, submitter_id: str) -> None:
    """Refuse a title a live case of the same call and organisation already holds (``existing``, if the lookup
    found one)."""
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
    return TimelineEntry(TimelineKind.SUBMITTED, f"Submitted to {call_title!r}", None, {"revision": 1})


def revised_entry(*, revision: int, changed: Iterable[str], change_note: str, iteration: int) -> TimelineEntry:
    return TimelineEntry(
        TimelineKind.REVISED,
        f"Revision {revision} submitted" + (f": {change_note}" if change_note else ""),
        iteration or None,
        {"revision": revision, "changed": sorted(changed), "change_note": change_note},
    )


def withdrawn_entry(*, reason: str) -> TimelineEntry:
    return TimelineEntry(
        TimelineKind.WITHDRAWN,
        "Withdrawn by the submitter" + (f": {reason}" if reason else ""),
        None,
        {"reason": reason},
    )


# --------------------------------------------------------------------------- feedback points


@dataclass(frozen=True)
class FeedbackPoint:
    """A point review asked the submitter to address (shared/feedback.py), and the revision that addressed it."""

    point_id: uuid.UUID
    iteration: int
    checklist_item: str
    comment: str
    raised_at: datetime
    addressed_in_revision: int | None = None

    @property
    def state(self) -> PointState:
        if self.addressed_in_revision is None:
            return OPEN
        return PointState(PointStatus.ADDRESSED, self.addressed_in_revision)


def points_raised(payload: EventPayload, *, at: datetime) -> list[FeedbackPoint]:
    """The points a review event asks the submitter to address: the numbered items of a changes request."""
    match payload:
        case ChangesRequestedV1(iteration=iteration, feedback=feedback):
            return [
                FeedbackPoint(f.point_id, iteration, f.checklist_item, f.comment, at)
                for f in feedback
                if f.point_id is not None
            ]
        case _:
            return []


def ensure_open_points(addresses: Sequence[uuid.UUID], points: Sequence[FeedbackPoint]) -> None:
    """Refuse a revision that says it addresses anything but open points of its case, naming each such id."""
    by_id = {p.point_id: p for p in points}
    problems = []
    refused: list[str] = []
    for i, point_id in enumerate(addresses):
        point = by_id.get(point_id)
        if point is not None and point.addressed_in_revision is None:
            continue
        refused.append(str(point_id))
        if point is None:
            problems.append(Problem(f"addresses.{i}", f"{point_id} is not a feedback point of this case"))
        else:
            problems.append(
                Problem(
                    f"addresses.{i}",
                    f"{point_id} ({point.checklist_item!r}) was already addressed by revision "
                    f"{point.addressed_in_revision}",
                )
            )
    if refused:
        named = ", ".join(refused)
        open_points = [str(p.point_id) for p in points if p.addressed_in_revision is None]
        raise Invalid(
            error="not_open_feedback_points",
            message=f"the revision names feedback points that are not open points of this case: {named}; "
            f"its open points are: {', '.join(open_points) or 'none'}",
            problems=problems,
            open_points=open_points,
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
    if current.status in FINAL_STATUSES:
        return current, False
    if _PHASE[proposed.status] < _PHASE[current.status]:
        return current, False
    if iteration is not None and iteration < current.iteration:
        return current, False
    return proposed, True


def apply_event(current: CaseProgress, payload: EventPayload) -> Transition:
    """The effect of one review or awards event on a case: its new progress and a timeline entry."""
    match payload:
        case IterationOpenedV1(iteration=iteration, stage=stage, revision=revision, due_at=due_at):
            proposed = replace(current, status=CaseStatus.IN_REVIEW, stage=stage, iteration=iteration)
            entry = TimelineEntry(
                TimelineKind.ITERATION_OPENED,
                f"Review iteration {iteration} opened at the {stage.value} stage (revision {revision})",
                iteration,
                {"stage": stage.value, "revision": revision, "due_at": due_at.isoformat()},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case ChangesRequestedV1(iteration=iteration, comment=comment, feedback=feedback):
            proposed = replace(current, status=CaseStatus.CHANGES_REQUESTED, iteration=iteration)
            entry = TimelineEntry(
                TimelineKind.CHANGES_REQUESTED,
                f"Changes requested in iteration {iteration}: {comment}",
                iteration,
                {"comment": comment, "feedback": [f.model_dump(mode="json") for f in feedback]},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case StageAdvancedV1(iteration=iteration, from_stage=from_stage, to_stage=to_stage, comment=comment):
            proposed = replace(current, status=CaseStatus.IN_REVIEW, stage=to_stage, iteration=iteration)
            entry = TimelineEntry(
                TimelineKind.STAGE_ADVANCED,
                f"Advanced from the {from_stage.value} to the {to_stage.value} stage",
                iteration,
                {"from_stage": from_stage.value, "to_stage": to_stage.value, "comment": comment},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case CaseRejectedV1(iteration=iteration, comment=comment, feedback=feedback):
            proposed = replace(current, status=CaseStatus.REJECTED, iteration=iteration)
            entry = TimelineEntry(
                TimelineKind.REJECTED,
                f"Rejected in review iteration {iteration}: {comment}",
                iteration,
                {"comment": comment, "feedback": [f.model_dump(mode="json") for f in feedback]},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case CaseNominatedV1(iteration=iteration, comment=comment, stage=stage):
            proposed = replace(current, status=CaseStatus.NOMINATED, stage=stage, iteration=iteration)
            entry = TimelineEntry(
                TimelineKind.NOMINATED,
                "Nominated for award evaluation",
                iteration,
                {"comment": comment, "stage": stage.value},
            )
            progress, applied = _move(current, proposed, iteration=iteration)
        case IterationEscalatedV1(iteration=iteration, due_at=due_at):
            entry = TimelineEntry(
                TimelineKind.ESCALATED,
                f"Review iteration {iteration} is overdue and was escalated",
                iteration,
                {"due_at": due_at.isoformat()},
            )
            progress, applied = current, True
        case EvaluationOpenedV1(criteria=criteria, juror_ids=juror_ids):
            proposed = replace(current, status=CaseStatus.IN_EVALUATION)
            entry = TimelineEntry(
                TimelineKind.EVALUATION_OPENED,
                f"Award evaluation opened with {len(criteria)} criteria",
                None,
                {"criteria": [c.key for c in criteria], "jurors": len(juror_ids)},
            )
            progress, applied = _move(current, proposed, iteration=None)
        # Embargoed until publication (seen_by): a later decision before then replaces this one.
        case AwardDecidedV1(outcome=outcome, feedback=feedback, weighted_score=score, rank_in_category=rank):
            proposed = replace(current, status=CaseStatus.DECIDED, outcome=outcome, feedback=feedback)
            entry = TimelineEntry(
                TimelineKind.DECIDED,
                f"Award decision: {outcome.value.replace('_', ' ')}",
                None,
                {"outcome": outcome.value, "feedback": feedback, "weighted_score": score, "rank_in_category": rank},
            )
            progress, applied = _move(current, proposed, iteration=None)
        # The released result: what the submitter learns, from the event that releases it.
        case ResultsPublishedV1(outcome=outcome, feedback=feedback):
            proposed = replace(current, status=CaseStatus.PUBLISHED, outcome=outcome, feedback=feedback)
            entry = TimelineEntry(
                TimelineKind.RESULTS_PUBLISHED,
                f"Results published: {outcome.value.replace('_', ' ')}",
                None,
                {"outcome": outcome.value, "feedback": feedback},
            )
            progress, applied = _move(current, proposed, iteration=None)
        case _:
            raise ValueError(f"intake does not track {payload.event_type}")
    return Transition(progress=progress, entry=entry, applied=applied)

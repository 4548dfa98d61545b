"""Review's rules, free of I/O: statuses, the stage checklists, decisions and four-eyes resolution.

Vocabulary
- A *case* is reviewed in *iterations*; each iteration is reviewed at one ISO 56002 stage.
- An iteration has one review *task* per required reviewer (``reviewers_per_iteration``, 1 or 2).
  A reviewer claims a task with a lease, then decides it.
- Four-eyes (two reviewers): the iteration's outcome is settled only when both tasks are decided.
  If the two decisions agree, that is the outcome; if they differ, the more cautious one wins:
  reject > request_changes > advance > nominate. A single "no" is therefore never overruled by a "yes",
  and a nomination needs both reviewers to nominate.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ValidationError

from shared.errors import Conflict, Invalid
from shared.events import (
    CaseHeader,
    CaseNominatedV1,
    CaseRejectedV1,
    ChangesAnsweredV1,
    ChangesRequestedV1,
    DueReason,
    EventPayload,
    FeedbackItem,
    Person,
    StageAdvancedV1,
)
from shared.feedback import PointState, PointStatus, point_states
from shared.vocabulary import IsoStage, Language, Role


class ReviewStatus(StrEnum):
    """Where a case stands in review (intake's ``CaseStatus`` is the case's public status, a different thing)."""

    IN_REVIEW = "in_review"  # an iteration is open
    CHANGES_REQUESTED = "changes_requested"  # waiting for the submitter's revision
    REJECTED = "rejected"
    NOMINATED = "nominated"
    WITHDRAWN = "withdrawn"


FINAL_REVIEW_STATUSES = frozenset({ReviewStatus.REJECTED, ReviewStatus.NOMINATED, ReviewStatus.WITHDRAWN})


class IterationStatus(StrEnum):
    OPEN = "open"
    CHANGES_REQUESTED = "changes_requested"
    ADVANCED = "advanced"
    REJECTED = "rejected"
    NOMINATED = "nominated"
    CANCELLED = "cancelled"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    DECIDED = "decided"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    REQUEST_CHANGES = "request_changes"
    ADVANCE = "advance"
    REJECT = "reject"
    NOMINATE = "nominate"


# Higher is more cautious; used to settle a four-eyes disagreement.
CAUTION: dict[Decision, int] = {
    Decision.NOMINATE: 0,
    Decision.ADVANCE: 1,
    Decision.REQUEST_CHANGES: 2,
    Decision.REJECT: 3,
}


# What a reviewer checks at each ISO 56002 stage (feedback items refer to these texts).
CHECKLISTS: dict[IsoStage, tuple[str, ...]] = {
    IsoStage.OPPORTUNITY: (
        "problem is evidenced",
        "users identified",
        "opportunity fits the call",
        "value for the public is plausible",
    ),
    IsoStage.CONCEPT: (
        "solution concept is described",
        "novelty compared to existing practice",
        "users involved in shaping the concept",
        "main risks identified",
    ),
    IsoStage.VALIDATION: (
        "concept tested with real users",
        "evidence of results is presented",
        "learning from tests is documented",
        "feasibility and cost are assessed",
    ),
    IsoStage.SOLUTION: (
        "solution is developed and working",
        "implementation plan and resources exist",
        "benefits are measurable",
        "partners and stakeholders committed",
    ),
    IsoStage.DEPLOYMENT: (
        "solution is in use",
        "impact is measured",
        "lessons are shared with others",
        "solution is sustainable or scalable",
    ),
}


def checklist(stage: IsoStage) -> list[str]:
    return list(CHECKLISTS[stage])


def unknown_checklist_items(stage: IsoStage, items: Iterable[str]) -> list[str]:
    """Feedback items that are not on the stage's checklist (a reviewer's typo or a stale client)."""
    known = set(CHECKLISTS[stage])
    return [item for item in items if item not in known]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class CaseDetails:
    """What a reviewer reads of a case beyond its header; contact details are left out on purpose."""

    problem: str = ""
    solution: str = ""
    oecd_principles: tuple[int, ...] = ()
    drivers: tuple[str, ...] = ()
    obstacles: tuple[str, ...] = ()
    team_size: int = 0
    partner_count: int = 0


@dataclass(frozen=True)
class ReviewedCase:
    """A case as review holds it: intake's last snapshot of it, and where it stands in review."""

    header: CaseHeader
    status: ReviewStatus
    stage: IsoStage  # review owns the stage once the case is in review
    revision: int
    reviewers_per_iteration: int
    details: CaseDetails

    submitter_id: str = ""  # whose case it is: the submitter reads its review history

    @property
    def case_id(self) -> uuid.UUID:
        return self.header.case_id

    @property
    def call_id(self) -> uuid.UUID:
        return self.header.call_id

    @property
    def organisation_id(self) -> str:
        return self.header.organisation_id


@dataclass(frozen=True)
class Iteration:
    """One timeboxed review round of a case at one stage."""

    case_id: uuid.UUID
    iteration: int
    stage: IsoStage
    revision: int
    status: IterationStatus
    outcome: Decision | None
    opened_at: datetime
    due_at: datetime
    escalated_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class ReviewerDecision:
    reviewer_id: str
    decision: Decision
    comment: str
    feedback: tuple[FeedbackItem, ...] = ()


@dataclass(frozen=True)
class TaskSlot:
    """One reviewer's slot of an iteration, as the iteration's history and its settlement see it."""

    task_id: uuid.UUID
    iteration: int
    slot: int
    status: TaskStatus
    reviewer_id: str | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    decision: Decision | None
    comment: str | None
    feedback: tuple[FeedbackItem, ...]
    decided_at: datetime | None
    # The reviewer as recorded at their claim (docs/people.md); None when nothing was recorded.
    reviewer: Person | None = None

    def reviewer_decision(self) -> ReviewerDecision | None:
        """The reviewer's decision, once the slot is decided."""
        if self.status is not TaskStatus.DECIDED or self.decision is None or self.reviewer_id is None:
            return None
        return ReviewerDecision(self.reviewer_id, self.decision, self.comment or "", self.feedback)


@dataclass(frozen=True)
class Call:
    """A call as review knows it: intake's announcement of the highest revision seen.

    Iterations take their number of reviewers from the case's snapshot, not from here: a case and its
    call's announcement have different Kafka keys, so the case may arrive first; and a call's number of
    reviewers never changes after cases were submitted to it.
    """

    call_id: uuid.UUID
    revision: int
    title: str
    opens_at: datetime
    closes_at: datetime
    reviewers_per_iteration: int


def is_newer_announcement(*, known_revision: int | None, revision: int) -> bool:
    """Only a higher revision than the one known changes anything: older and repeated announcements are stale."""
    return known_revision is None or revision > known_revision


@dataclass(frozen=True)
class Task:
    """A review task on the queue, with the stage of its iteration and the case it is about."""

    task_id: uuid.UUID
    iteration: int
    slot: int
    status: TaskStatus
    stage: IsoStage  # the iteration's stage, which the task is reviewed at
    due_at: datetime
    created_at: datetime
    reviewer_id: str | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    # Claimed, but the lease ran out and nobody took the task again: it is back in the queue.
    lease_expired: bool
    decision: Decision | None
    comment: str | None
    feedback: tuple[FeedbackItem, ...]
    decided_at: datetime | None
    case: ReviewedCase
    # The case's call as announced by intake; None until review has learned it.
    call: Call | None = None

    @property
    def case_id(self) -> uuid.UUID:
        return self.case.case_id


@dataclass(frozen=True)
class Verdict:
    """A reviewer's decision on a task: what they decided, why, and their feedback on the stage's checklist."""

    decision: Decision
    comment: str
    feedback: tuple[FeedbackItem, ...] = ()


# --------------------------------------------------------------------------- refusals
# The workflow and these rules refuse with shared.errors' NotFound, Conflict and Invalid; the message is
# what the client reads (shared/http_errors.py maps them to 404, 409 and 422).


class DecisionNotAllowed(Conflict):
    """The decision cannot be taken in the case's or the task's current state."""


def ensure_feedback(stage: IsoStage, items: Iterable[str]) -> None:
    """Raise ``Invalid`` if feedback names items that are not on the stage's checklist."""
    unknown = unknown_checklist_items(stage, items)
    if unknown:
        raise Invalid(
            f"feedback names items not on the {stage} checklist: {unknown}; the checklist is {checklist(stage)}"
        )


def ensure_releasable(task_status: TaskStatus) -> None:
    if task_status is not TaskStatus.CLAIMED:
        raise Conflict(f"the task is {task_status}; only a claimed task can be released")


def ensure_decidable(*, task_status: TaskStatus, lease_expired: bool) -> None:
    """Raise ``DecisionNotAllowed`` unless the reviewer's claim on the task still stands."""
    match task_status:
        case TaskStatus.CLAIMED if not lease_expired:
            return
        case TaskStatus.QUEUED | TaskStatus.CLAIMED:
            raise DecisionNotAllowed("lease expired: claim the task again")
        case TaskStatus.DECIDED:
            raise DecisionNotAllowed("the task is already decided")
        case TaskStatus.CANCELLED:
            raise DecisionNotAllowed("the task was cancelled (the case was withdrawn)")


def ensure_no_conflict_of_interest(*, case_organisation: str, reviewer_organisation: str) -> None:
    # Claims never hand out such a case, but a revision may move the case to the reviewer's own organisation.
    if case_organisation == reviewer_organisation:
        raise DecisionNotAllowed("conflict of interest: the case is from your organisation")


def ensure_decision(*, review_status: ReviewStatus, stage: IsoStage, decision: Decision) -> None:
    """Raise ``DecisionNotAllowed`` unless ``decision`` may be taken on a case in ``review_status`` at ``stage``."""
    if review_status in FINAL_REVIEW_STATUSES:
        raise DecisionNotAllowed(f"the case is {review_status}; it takes no more decisions")
    if review_status is not ReviewStatus.IN_REVIEW:
        raise DecisionNotAllowed(f"the case is {review_status}; no iteration is open")
    if decision is Decision.ADVANCE and stage.next() is None:
        raise DecisionNotAllowed(f"{stage} is the last ISO 56002 stage; it cannot be advanced (nominate instead)")


def resolve(decisions: Sequence[Decision], *, required: int) -> Decision | None:
    """The iteration's outcome once ``required`` reviewers decided, else None (still waiting)."""
    if len(decisions) < required:
        return None
    return max(decisions, key=CAUTION.__getitem__)


@dataclass(frozen=True)
class Outcome:
    """What an iteration's settled decision does to the case."""

    review_status: ReviewStatus
    iteration_status: IterationStatus
    next_stage: IsoStage | None  # set when the stage advances

    @property
    def opens_next_iteration(self) -> bool:
        """An advanced stage is reviewed at once; after request_changes the iteration waits for the revision."""
        return self.next_stage is not None


def outcome_of(decision: Decision, *, stage: IsoStage) -> Outcome:
    """The effect of a settled decision on a case being reviewed at ``stage``."""
    match decision:
        case Decision.REQUEST_CHANGES:
            # The next iteration opens when the submitter's revision arrives.
            return Outcome(ReviewStatus.CHANGES_REQUESTED, IterationStatus.CHANGES_REQUESTED, None)
        case Decision.ADVANCE:
            next_stage = stage.next()
            if next_stage is None:
                raise DecisionNotAllowed(f"{stage} is the last ISO 56002 stage; it cannot be advanced")
            return Outcome(ReviewStatus.IN_REVIEW, IterationStatus.ADVANCED, next_stage)
        case Decision.REJECT:
            return Outcome(ReviewStatus.REJECTED, IterationStatus.REJECTED, None)
        case Decision.NOMINATE:
            return Outcome(ReviewStatus.NOMINATED, IterationStatus.NOMINATED, None)


def revision_opens_iteration(review_status: ReviewStatus) -> bool:
    """A revision starts a new iteration only when changes were requested; otherwise it just updates the case."""
    match review_status:
        case ReviewStatus.CHANGES_REQUESTED:
            return True
        case ReviewStatus.IN_REVIEW | ReviewStatus.REJECTED | ReviewStatus.NOMINATED | ReviewStatus.WITHDRAWN:
            return False


def stage_after_revision(current: IsoStage, declared: IsoStage) -> IsoStage:
    """Review owns the stage once a case is in review: a revision may move it forward, never back."""
    stages = list(IsoStage)
    return max(current, declared, key=stages.index)


# --------------------------------------------------------------------------- settled iterations → events


def settled_event(
    outcome: Decision,
    *,
    case: CaseHeader,
    iteration: int,
    stage: IsoStage,
    decisions: Sequence[ReviewerDecision],
) -> EventPayload:
    """The event announcing an iteration's settled outcome.

    All reviewers of the iteration are named; the comment is what the reviewers who chose the outcome wrote
    (the submitter reads the reasons for what happened), the checklist feedback is everyone's.
    """
    reviewer_ids = [d.reviewer_id for d in decisions]
    comment, reasons = settled_reasons(outcome, decisions)
    feedback = list(reasons)
    match outcome:
        case Decision.REQUEST_CHANGES:
            return ChangesRequestedV1(
                case_id=case.case_id,
                call_id=case.call_id,
                iteration=iteration,
                reviewer_ids=reviewer_ids,
                comment=comment,
                feedback=feedback,
            )
        case Decision.ADVANCE:
            next_stage = stage.next()
            if next_stage is None:
                raise DecisionNotAllowed(f"{stage} is the last ISO 56002 stage; it cannot be advanced")
            return StageAdvancedV1(
                case_id=case.case_id,
                call_id=case.call_id,
                iteration=iteration,
                from_stage=stage,
                to_stage=next_stage,
                reviewer_ids=reviewer_ids,
                comment=comment,
            )
        case Decision.REJECT:
            return CaseRejectedV1(
                case_id=case.case_id,
                call_id=case.call_id,
                iteration=iteration,
                reviewer_ids=reviewer_ids,
                comment=comment,
                feedback=feedback,
            )
        case Decision.NOMINATE:
            # The nomination carries the case header, so awards never asks intake.
            return CaseNominatedV1(
                **case.model_dump(), iteration=iteration, reviewer_ids=reviewer_ids, comment=comment, stage=stage
            )


def settled_reasons(
    outcome: Decision | None, decisions: Sequence[ReviewerDecision]
) -> tuple[str, tuple[FeedbackItem, ...]]:
    """What a settled iteration tells the submitter: the comments of the reviewers who chose the outcome, and
    everyone's checklist feedback. Nothing while the iteration is unsettled."""
    if outcome is None:
        return "", ()
    comment = "\n\n".join(d.comment for d in decisions if d.decision is outcome)
    return comment, tuple(item for d in decisions for item in d.feedback)


# --------------------------------------------------------------------------- feedback points
# What the point ids mean is shared/feedback.py's: review gives them and keeps the revisions that address them.


def point_id(task_id: uuid.UUID, position: int) -> uuid.UUID:
    """The id of the unmet item at ``position`` of a task's feedback: derived, so the same item always gets it."""
    return uuid.uuid5(task_id, f"feedback-point/{position}")


def number_points(slots: Sequence[TaskSlot]) -> list[TaskSlot]:
    """The slots with a point id on each unmet feedback item: done when their iteration settles with
    "request changes", whoever chose what (the submitter is asked to address everyone's unmet items).

    Met items are no points; items of iterations settled otherwise (advance, nominate, reject) get no ids:
    nothing waits for a revision there.
    """
    return [
        replace(
            slot,
            feedback=tuple(
                item
                if item.met or item.point_id is not None
                else item.model_copy(update={"point_id": point_id(slot.task_id, position)})
                for position, item in enumerate(slot.feedback)
            ),
        )
        for slot in slots
    ]


@dataclass(frozen=True)
class RevisionNote:
    """A revision as review received it: the submitter's note and the feedback points it says it addresses."""

    revision: int
    change_note: str
    addressed_points: tuple[uuid.UUID, ...]
    received_at: datetime


@dataclass(frozen=True)
class FeedbackPoint:
    """One point a reviewer asked the submitter to address, and whether a revision has addressed it."""

    point_id: uuid.UUID
    iteration: int
    checklist_item: str
    comment: str
    state: PointState


def feedback_points(slots: Iterable[TaskSlot], revisions: Iterable[RevisionNote]) -> list[FeedbackPoint]:
    """Every point of the case (``slots`` are its review slots), by iteration, slot and position, with its state."""
    raised: list[tuple[int, uuid.UUID, FeedbackItem]] = []
    for slot in sorted(slots, key=lambda s: (s.iteration, s.slot)):
        raised.extend((slot.iteration, item.point_id, item) for item in slot.feedback if item.point_id is not None)
    states = point_states((p for _, p, _ in raised), ((r.revision, r.addressed_points) for r in revisions))
    return [FeedbackPoint(p, iteration, item.checklist_item, item.comment, states[p]) for iteration, p, item in raised]


# --------------------------------------------------------------------------- who reads a case's history, and what


class Reader(StrEnum):
    """Who reads a case's review history; it decides what they see."""

    OPERATOR = "operator"  # everything
    REVIEWER = "reviewer"  # everything, unless the case is of their own organisation (then it does not exist)
    SUBMITTER = "submitter"  # their own case: each settled iteration's outcome, reasons and feedback, not who decided


def history_reader(*, roles: Collection[Role], user_id: str, organisation_id: str, case: ReviewedCase) -> Reader | None:
    """How ``user_id`` reads the case's history, or None when it is not theirs to read (they are told "not found")."""
    if Role.OPERATOR in roles:
        return Reader.OPERATOR
    # The conflict rule hides a case from reviewers of its own organisation.
    if Role.REVIEWER in roles and organisation_id != case.organisation_id:
        return Reader.REVIEWER
    if Role.SUBMITTER in roles and case.submitter_id and user_id == case.submitter_id:
        return Reader.SUBMITTER
    return None


@dataclass(frozen=True)
class IterationRecord:
    """One iteration as a reader sees it: its reviewers' slots and, once settled, its reasons and feedback."""

    iteration: Iteration
    slots: tuple[TaskSlot, ...]  # empty for the submitter: who decided what stays inside review
    comment: str  # the reasons for the settled outcome ("" until settled)
    feedback: tuple[FeedbackItem, ...]  # everyone's checklist feedback, once settled


def iteration_records(
    iterations: Iterable[Iteration], slots: Sequence[TaskSlot], *, reader: Reader
) -> list[IterationRecord]:
    """The iterations with their slots and settled reasons, as ``reader`` may see them.

    A four-eyes iteration's first decision stays hidden from the submitter until the second settles it.
    """
    records = []
    for iteration in iterations:
        own = tuple(s for s in slots if s.iteration == iteration.iteration)
        decisions = [d for d in (s.reviewer_decision() for s in own) if d is not None]
        comment, feedback = settled_reasons(iteration.outcome, decisions)
        records.append(IterationRecord(iteration, () if reader is Reader.SUBMITTER else own, comment, feedback))
    return records


# --------------------------------------------------------------------------- the people in the loop (docs/people.md)


def reviewer_person(*, user_id: str, name: str, email: str, language: Language) -> Person:
    """The reviewer as a message reaches them, from their token's identity claims at claim.

    No email when the claim is empty, or is not an address a delivery could use (the token's claim is not
    checked elsewhere): the in-app feed still reaches them.
    """
    try:
        return Person(user_id=user_id, name=name, email=email or None, language=language)
    except ValidationError:
        return Person(user_id=user_id, name=name, email=None, language=language)


def slot_reviewer(slot: TaskSlot) -> Person | None:
    """Whom a slot's reviewer is to a message: as recorded at their claim, else their user id only."""
    if slot.reviewer_id is None:
        return None
    return slot.reviewer if slot.reviewer is not None else Person(user_id=slot.reviewer_id)


@dataclass(frozen=True)
class HeldTask:
    """A claimed task as the reminder job sees it: who holds it until when, and when its iteration is due."""

    task_id: uuid.UUID
    status: TaskStatus
    iteration: int
    case: CaseHeader
    reviewer: Person  # the holder
    lease_expires_at: datetime
    iteration_due_at: datetime  # the SLA
    lease_reminded_for: datetime | None  # the lease expiry a lease reminder was sent for, if any
    sla_reminded_reviewers: tuple[str, ...]  # who had this task's SLA reminder


@dataclass(frozen=True)
class ReminderWindows:
    """How long before the end of the lease, and of the iteration's SLA, the holder is reminded."""

    lease: timedelta
    sla: timedelta


@dataclass(frozen=True)
class Reminder:
    reason: DueReason
    due_at: datetime


def lease_held(lease_expires_at: datetime | None, *, now: datetime) -> bool:
    """A claim holds the task until its lease's last instant; after that the task is back in the queue."""
    return lease_expires_at is not None and now <= lease_expires_at


def due_reminders(task: HeldTask, *, now: datetime, windows: ReminderWindows) -> list[Reminder]:
    """The reminders due to the task's holder now (the repository's search asks the same in SQL).

    Only a claim that still holds the task is reminded. The lease reminder goes once per lease: a new claim
    (by anyone, the same reviewer too) has a new lease expiry. The SLA reminder goes once per task and holder,
    also when the iteration is already overdue: a holder who claimed late, or a job that ran late, still tells
    the reviewer.
    """
    if task.status is not TaskStatus.CLAIMED or not lease_held(task.lease_expires_at, now=now):
        return []
    reminders = []
    if task.lease_expires_at - now <= windows.lease and task.lease_reminded_for != task.lease_expires_at:
        reminders.append(Reminder(DueReason.LEASE, task.lease_expires_at))
    if task.iteration_due_at - now <= windows.sla and task.reviewer.user_id not in task.sla_reminded_reviewers:
        reminders.append(Reminder(DueReason.SLA, task.iteration_due_at))
    return reminders


def answered_iteration(*, review_status: ReviewStatus, latest_settled: Iteration | None) -> int | None:
    """The iteration whose requested changes a revision answers: the case's latest settled iteration, when it
    was settled with "request changes" and the case is still being reviewed; else None."""
    match review_status:
        case ReviewStatus.REJECTED | ReviewStatus.NOMINATED | ReviewStatus.WITHDRAWN:
            return None
        case ReviewStatus.CHANGES_REQUESTED | ReviewStatus.IN_REVIEW:
            if latest_settled is None or latest_settled.outcome is not Decision.REQUEST_CHANGES:
                return None
            return latest_settled.iteration


def changes_answered(
    *,
    case: CaseHeader,
    iteration: int,
    revision: int,
    slots: Sequence[TaskSlot],
    revisions: Iterable[RevisionNote],
    addressed_points: Sequence[uuid.UUID],
) -> ChangesAnsweredV1:
    """Tell the reviewers of ``iteration`` (its ``slots``) that ``revision`` answers the changes they requested.

    The reviewers are those who decided the iteration, by slot. ``revisions`` are all the case's revisions
    received so far, this one included: a point of the iteration is still open when none of them addressed it.
    """
    own = [s for s in sorted(slots, key=lambda s: s.slot) if s.iteration == iteration]
    reviewers = [p for p in (slot_reviewer(s) for s in own if s.reviewer_decision() is not None) if p is not None]
    points = feedback_points(own, revisions)
    return ChangesAnsweredV1(
        case_id=case.case_id,
        call_id=case.call_id,
        case_title=case.title,
        call_title=case.call_title,
        iteration=iteration,
        revision=revision,
        reviewers=reviewers,
        addressed_points=list(addressed_points),
        open_points=sum(1 for p in points if p.state.status is PointStatus.OPEN),
    )

"""Request and response bodies of review's HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from services.review.domain import CHECKLISTS, Decision, IterationStatus, ReviewStatus, TaskStatus
from shared.bodies import Boolean, RequestBody
from shared.events import CaseHeader
from shared.feedback import PointStatus
from shared.pagination import Page
from shared.vocabulary import IsoStage

# Every stage's checklist, for the schema: an item must be on the task's stage's list (domain.ensure_feedback).
_CHECKLIST_ITEMS = list(dict.fromkeys(item for items in CHECKLISTS.values() for item in items))
_CHECKLISTS_TEXT = " ".join(f"{stage.value}: {'; '.join(items)}." for stage, items in CHECKLISTS.items())


def _on_a_checklist(item: str) -> str:
    if item not in _CHECKLIST_ITEMS:
        raise ValueError(f"{item!r} is on no stage's checklist; the checklists are: {_CHECKLISTS_TEXT}")
    return item


ChecklistItem = Annotated[
    str,
    AfterValidator(_on_a_checklist),
    Field(
        json_schema_extra={"enum": _CHECKLIST_ITEMS},
        description="an item of the checklist of the task's stage (the task's `checklist` lists them). "
        f"The checklists: {_CHECKLISTS_TEXT}",
    ),
]


class FeedbackIn(RequestBody):
    checklist_item: ChecklistItem
    met: Annotated[bool, Boolean]
    comment: str = Field("", max_length=2000)


class DecisionIn(RequestBody):
    decision: Decision
    comment: str = Field(min_length=1, max_length=5000)
    feedback: list[FeedbackIn] = Field(
        default_factory=list,
        max_length=50,
        description="the reviewer's verdict on items of the stage's checklist; an item of another stage is refused",
    )


class CallView(BaseModel):
    """The case's call as intake last announced it."""

    call_id: uuid.UUID
    revision: int
    title: str
    opens_at: datetime
    closes_at: datetime
    reviewers_per_iteration: int


class CaseView(CaseHeader):
    """What a reviewer sees of the case (no contact data): its header and what review knows of it."""

    problem: str = ""
    solution: str = ""
    stage: IsoStage
    revision: int
    status: ReviewStatus
    reviewers_per_iteration: int
    oecd_principles: list[int] = Field(default_factory=list)
    drivers: list[str] = Field(default_factory=list)
    obstacles: list[str] = Field(default_factory=list)
    # null until review has learned the call from its announcement
    call: CallView | None = None


class FeedbackOut(BaseModel):
    checklist_item: str
    met: bool
    comment: str = ""
    # Set when the item is a point to address (an unmet item of an iteration settled with request_changes).
    point_id: uuid.UUID | None = None
    status: PointStatus | None = None
    addressed_in_revision: int | None = None


class FeedbackPointOut(BaseModel):
    """A point a reviewer asked the submitter to address; open until a revision addresses it."""

    point_id: uuid.UUID
    iteration: int
    checklist_item: str
    comment: str
    status: PointStatus
    addressed_in_revision: int | None


class RevisionOut(BaseModel):
    revision: int
    change_note: str
    addressed_points: list[uuid.UUID]
    received_at: datetime


class TaskOut(BaseModel):
    task_id: uuid.UUID
    case_id: uuid.UUID
    iteration: int
    slot: int
    stage: IsoStage
    status: TaskStatus
    # true while a claim's lease ran out and nobody took the task again: it is back in the queue
    lease_expired: bool
    reviewer_id: str | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    due_at: datetime
    decision: Decision | None
    comment: str | None
    feedback: list[FeedbackOut]  # this task's own decision (its points' states: GET /cases/{id}/iterations)
    decided_at: datetime | None
    case: CaseView
    checklist: list[str]
    # What came before this task: the case's earlier iterations, its feedback points and its revisions.
    earlier_iterations: list[IterationOut]
    points: list[FeedbackPointOut]
    revisions: list[RevisionOut]


class DecisionOut(BaseModel):
    task_id: uuid.UUID
    case_id: uuid.UUID
    iteration: int
    decision: Decision
    # the iteration's settled outcome; null while a four-eyes iteration waits for its second reviewer
    outcome: Decision | None
    case_status: ReviewStatus
    stage: IsoStage
    next_iteration: int | None


class QueueItem(BaseModel):
    task_id: uuid.UUID
    case_id: uuid.UUID
    call_id: uuid.UUID
    title: str
    organisation_name: str
    iteration: int
    slot: int
    stage: IsoStage
    status: TaskStatus
    lease_expired: bool
    reviewer_id: str | None
    lease_expires_at: datetime | None
    due_at: datetime
    decision: Decision | None
    created_at: datetime


class QueuePage(Page[QueueItem]):
    pass


class ReviewDecisionOut(BaseModel):
    task_id: uuid.UUID
    slot: int
    status: TaskStatus
    reviewer_id: str | None
    decision: Decision | None
    comment: str | None
    feedback: list[FeedbackOut]
    decided_at: datetime | None


class IterationOut(BaseModel):
    iteration: int
    stage: IsoStage
    revision: int
    status: IterationStatus
    outcome: Decision | None
    opened_at: datetime
    due_at: datetime
    escalated_at: datetime | None
    closed_at: datetime | None
    # Once settled: the comments of the reviewers who chose the outcome, and everyone's checklist feedback.
    comment: str
    feedback: list[FeedbackOut]
    # Each reviewer's decision; empty for the case's submitter (who decided what stays inside review).
    decisions: list[ReviewDecisionOut]


class IterationsPage(Page[IterationOut]):
    case_id: uuid.UUID
    case_status: ReviewStatus
    stage: IsoStage
    items: list[IterationOut]
    points: list[FeedbackPointOut]  # every point of the case, not only the page's
    revisions: list[RevisionOut]


TaskOut.model_rebuild()  # it names IterationOut, defined after it

"""Event contracts: the CloudEvents 1.0 envelope and every versioned payload.

An event on the wire is one JSON object in CloudEvents *structured* mode
(``application/cloudevents+json``); the Kafka key is the case id (``subject``), or the call id for a
call's announcements.
A payload change that breaks readers is a new ``.vN`` type, never an edit here.
Consumers ignore fields they do not know (pydantic's default ``extra="ignore"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared import topics
from shared.errors import Problem
from shared.vocabulary import AwardOutcome, Category, Channel, IsoStage, Language

CONTENT_TYPE = "application/cloudevents+json"


EVENT_TYPES: dict[str, type[EventPayload]] = {}
"""Every payload class by its CloudEvents type, filled as the classes below are defined."""


class EventPayload(BaseModel):
    """Base of every payload: knows its CloudEvents type and the topic it travels on.

    Defining a subclass with an ``event_type`` registers it in ``EVENT_TYPES``: the registry is
    the set of payload classes, never a list kept by hand. Its JSON Schema is snapshotted under
    ``contracts/events/`` (docs/events.md: a published version never changes incompatibly).
    """

    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str]
    # What ``subject()`` names: a case (the default), a call, or a service (operations events).
    subject_kind: ClassVar[Literal["case", "call", "service"]] = "case"
    topic: ClassVar[str]
    # While a topic is replaced by a new version, the old one(s) its events may still arrive on
    # (docs/events.md, "When a topic's version changes"): consumers read both.
    previous_topics: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is None:
            return  # an intermediate base, not a contract
        if event_type in EVENT_TYPES:
            raise TypeError(f"two payload classes for {event_type}: {EVENT_TYPES[event_type].__name__}, {cls.__name__}")
        EVENT_TYPES[event_type] = cls

    @classmethod
    def dataschema(cls) -> str:
        return f"urn:kipina:schema:{cls.event_type}"

    def subject(self) -> str:
        """The case the event is about: the CloudEvents ``subject`` and the Kafka key (per-case order).

        An event about something else (a call) overrides this with that thing's id.
        """
        case_id = getattr(self, "case_id", None)
        if not isinstance(case_id, uuid.UUID):
            raise TypeError(f"{type(self).__name__} names no case_id; override subject()")
        return str(case_id)


# --------------------------------------------------------------------------- envelope


class CloudEvent(BaseModel):
    """CloudEvents 1.0 envelope with Kipinä's ``correlationid``/``causationid`` extensions and the
    distributed-tracing extension (``traceparent``/``tracestate``)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    source: str = Field(pattern=r"^/kipina/[a-z]+$")
    type: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    correlationid: str = Field(min_length=1)
    causationid: str | None = None
    # CloudEvents distributed-tracing extension (W3C trace context): one trace follows a case across services.
    traceparent: str | None = Field(default=None, max_length=55)
    tracestate: str | None = Field(default=None, max_length=512)
    data: dict[str, Any]

    def payload(self) -> EventPayload:
        """The typed payload. Raises ``UnknownEventType`` or pydantic's ``ValidationError``."""
        model = EVENT_TYPES.get(self.type)
        if model is None:
            raise UnknownEventType(self.type)
        return model.model_validate(self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class UnknownEventType(ValueError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


def new_event(
    payload: EventPayload,
    *,
    service: str,
    correlation_id: str,
    causation_id: str | None = None,
    event_id: uuid.UUID | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
    subject: str | None = None,
) -> CloudEvent:
    """Wrap a payload in a fresh envelope; its subject (the Kafka key) is the payload's case.

    ``subject`` overrides that for tools and tests that craft envelopes; services never pass it.
    """
    return CloudEvent(
        id=event_id or uuid.uuid4(),
        source=f"/kipina/{service}",
        type=payload.event_type,
        subject=subject if subject is not None else payload.subject(),
        time=datetime.now(UTC),
        dataschema=payload.dataschema(),
        correlationid=correlation_id,
        causationid=causation_id,
        traceparent=traceparent,
        tracestate=tracestate or None,
        data=payload.model_dump(mode="json"),
    )


def parse_event(raw: bytes) -> CloudEvent:
    """Parse an envelope from bytes. Raises ``ValidationError`` when malformed."""
    return CloudEvent.model_validate_json(raw)


# --------------------------------------------------------------------------- shared parts


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    email: EmailStr
    language: Language = Language.EN
    role: str | None = None


class Person(BaseModel):
    """Someone a message is addressed to, as the service that knows them saw them (docs/people.md).

    The least a delivery needs: the user id (their in-app feed), a name to greet, an email address when one
    is known, and the language to write in. Only events that exist to address someone carry one.
    """

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    name: str = ""
    email: EmailStr | None = None
    language: Language = Language.EN


class Organisation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    business_id: str


class CaseHeader(BaseModel):
    """What names a case wherever it travels: defined once, used by events, tables and views alike."""

    model_config = ConfigDict(frozen=True)

    case_id: uuid.UUID
    call_id: uuid.UUID
    call_title: str
    title: str
    summary: str
    category: Category
    language: Language
    organisation_id: str
    organisation_name: str


CASE_HEADER_FIELDS: tuple[str, ...] = tuple(CaseHeader.model_fields)


class CaseSnapshot(BaseModel):
    """Everything downstream services need to know about a case at one revision."""

    model_config = ConfigDict(frozen=True)

    case_id: uuid.UUID
    call_id: uuid.UUID
    call_title: str
    revision: int = Field(ge=1)
    reviewers_per_iteration: int = Field(default=1, ge=1, le=2)
    title: str
    summary: str
    problem: str
    solution: str
    organisation: Organisation
    submitter_id: str
    submitter: Contact
    team: list[Contact] = []
    partners: list[Contact] = []
    category: Category
    language: Language
    oecd_principles: list[int] = []
    iso_stage: IsoStage
    drivers: list[str] = []
    obstacles: list[str] = []

    def header(self) -> CaseHeader:
        return CaseHeader(
            case_id=self.case_id,
            call_id=self.call_id,
            call_title=self.call_title,
            title=self.title,
            summary=self.summary,
            category=self.category,
            language=self.language,
            organisation_id=self.organisation.id,
            organisation_name=self.organisation.name,
        )


# --------------------------------------------------------------------------- intake


class CaseSubmittedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.case.submitted.v1"
    topic: ClassVar[str] = topics.INTAKE

    case: CaseSnapshot

    def subject(self) -> str:
        return str(self.case.case_id)


class CaseRevisedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.case.revised.v1"
    topic: ClassVar[str] = topics.INTAKE

    case: CaseSnapshot
    change_note: str = ""
    # The feedback points (FeedbackItem.point_id) the submitter says this revision addresses.
    addressed_points: list[uuid.UUID] = []

    def subject(self) -> str:
        return str(self.case.case_id)


class CaseWithdrawnV1(EventPayload):
    event_type: ClassVar[str] = "kipina.case.withdrawn.v1"
    topic: ClassVar[str] = topics.INTAKE

    case_id: uuid.UUID
    call_id: uuid.UUID
    reason: str = ""


# --------------------------------------------------------------------------- review


class FeedbackItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    checklist_item: str
    met: bool
    comment: str = ""
    # Set on an unmet item of an iteration settled with "request changes": a point the submitter is asked to
    # address, named by revisions (CaseRevisedV1.addressed_points). shared/feedback.py says when it is open.
    point_id: uuid.UUID | None = None


class IterationOpenedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.review.iteration_opened.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    iteration: int = Field(ge=1)
    revision: int = Field(ge=1)
    stage: IsoStage
    due_at: datetime


class ChangesRequestedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.review.changes_requested.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    iteration: int
    reviewer_ids: list[str]
    comment: str
    feedback: list[FeedbackItem] = []


class StageAdvancedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.review.stage_advanced.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    iteration: int
    from_stage: IsoStage
    to_stage: IsoStage
    reviewer_ids: list[str]
    comment: str = ""


class CaseRejectedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.review.rejected.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    iteration: int
    reviewer_ids: list[str]
    comment: str
    feedback: list[FeedbackItem] = []


class CaseNominatedV1(CaseHeader, EventPayload):
    """A case goes to award evaluation. Carries the case header, so awards never asks intake."""

    event_type: ClassVar[str] = "kipina.review.nominated.v1"
    topic: ClassVar[str] = topics.REVIEW

    iteration: int
    reviewer_ids: list[str]
    comment: str = ""
    stage: IsoStage

    def header(self) -> CaseHeader:
        return CaseHeader.model_validate(self.model_dump(include=set(CASE_HEADER_FIELDS)))


class IterationEscalatedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.review.escalated.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    iteration: int
    due_at: datetime


class DueReason(StrEnum):
    LEASE = "lease"  # the reviewer's claim on the task runs out (the task goes back to the queue)
    SLA = "sla"  # the iteration's review is due (then it is escalated to operators)


class TaskDueSoonV1(EventPayload):
    """A reminder to the reviewer holding a task: its lease or the iteration's SLA ends at ``due_at``."""

    event_type: ClassVar[str] = "kipina.review.task_due_soon.v1"
    topic: ClassVar[str] = topics.REVIEW

    task_id: uuid.UUID
    case_id: uuid.UUID
    call_id: uuid.UUID
    case_title: str
    call_title: str
    iteration: int = Field(ge=1)
    reviewer: Person
    reason: DueReason
    due_at: datetime


class ChangesAnsweredV1(EventPayload):
    """The submitter revised a case on which these reviewers requested changes in ``iteration``."""

    event_type: ClassVar[str] = "kipina.review.changes_answered.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    case_title: str
    call_title: str
    iteration: int = Field(ge=1)  # the iteration that requested the changes
    revision: int = Field(ge=1)  # the revision that answers them
    reviewers: list[Person]
    addressed_points: list[uuid.UUID] = []
    open_points: int = Field(default=0, ge=0)  # points of that iteration no revision has addressed yet


# --------------------------------------------------------------------------- awards


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    name: str
    weight: float = Field(gt=0)
    scale_min: int = 0
    scale_max: int = 5
    description: str = ""  # what the criterion means, for the jurors who score it


# The Quality Innovation Award's five criteria, equally weighted, scored 0–5: a new call's criteria unless the
# operator names others (intake), and what awards scores against for a call it has not learned yet. Jurors read
# each description.
QUALITY_INNOVATION_AWARD_CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        key="novelty",
        name="Novelty",
        weight=1.0,
        scale_min=0,
        scale_max=5,
        description="How new the innovation is compared with existing practice: a new idea, or a known one applied "
        "in a new way or a new context in its sector.",
    ),
    Criterion(
        key="usefulness",
        name="Usefulness (applicability)",
        weight=1.0,
        scale_min=0,
        scale_max=5,
        description="How well the innovation solves a real problem, and how readily other organisations or "
        "contexts could adopt it.",
    ),
    Criterion(
        key="learning",
        name="Learning",
        weight=1.0,
        scale_min=0,
        scale_max=5,
        description="How systematically the organisation learned while developing the innovation (experiments, "
        "user feedback, measurement) and how it shares and uses what it learned.",
    ),
    Criterion(
        key="customer_orientation",
        name="Customer orientation",
        weight=1.0,
        scale_min=0,
        scale_max=5,
        description="How well the innovation rests on the needs of its customers or users, how they were involved "
        "in developing it, and how it improves their experience.",
    ),
    Criterion(
        key="effectiveness",
        name="Effectiveness (performance)",
        weight=1.0,
        scale_min=0,
        scale_max=5,
        description="The results the innovation has achieved, shown by measurement: its effect on quality, cost, "
        "time, sustainability or other indicators of performance.",
    ),
)


def criteria_problems(criteria: Sequence[Criterion]) -> list[Problem]:
    """What is wrong with a call's criteria (empty when usable): each key once, each scale a range.

    One rule wherever criteria are set: with the call in intake, or as an override in awards.
    """
    problems: list[Problem] = []
    keys = [c.key for c in criteria]
    for i, criterion in enumerate(criteria):
        if criterion.scale_max <= criterion.scale_min:
            problems.append(
                Problem(
                    f"criteria.{i}.scale_max",
                    f"criterion {criterion.key!r}: scale_max ({criterion.scale_max}) must exceed scale_min",
                )
            )
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        problems.append(Problem("criteria", f"criterion keys must be unique; repeated: {', '.join(repeated)}"))
    return problems


class EvaluationOpenedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.award.evaluation_opened.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    criteria: list[Criterion]
    juror_ids: list[str]


class AwardDecidedV1(EventPayload):
    """The jury's decision, embargoed until its call's results are published (docs/design.md, "The embargo").

    Emitted again when the decision is changed before publication; the last one stands.
    """

    event_type: ClassVar[str] = "kipina.award.decided.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    outcome: AwardOutcome
    weighted_score: float | None
    rank_in_category: int | None = None
    feedback: str = ""
    # The jurors whose scores the decision rests on: they hear that a case they scored was decided.
    scored_by: list[Person] = []


class ResultsPublishedV1(EventPayload):
    """A case's result released to its submitter: the outcome and the jury's feedback (never score or rank)."""

    event_type: ClassVar[str] = "kipina.award.results_published.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    outcome: AwardOutcome
    feedback: str = ""


class JurorsAssignedV1(EventPayload):
    """Jurors newly assigned to score a case (the ones assigned before are not repeated)."""

    event_type: ClassVar[str] = "kipina.award.jurors_assigned.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    case_title: str
    call_title: str
    jurors: list[Person]
    scoring_due_at: datetime


class ScoringDueV1(EventPayload):
    """A reminder to a juror who has not yet scored a case assigned to them: scoring is due at ``due_at``."""

    event_type: ClassVar[str] = "kipina.award.scoring_due.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    case_title: str
    call_title: str
    juror: Person
    due_at: datetime


class EvaluationCompleteV1(EventPayload):
    """Every case of a call in evaluation is scored by all its jurors: the call is ready to decide.

    Emitted each time the call becomes complete (again, after a late nomination opened a new evaluation).
    Its subject, and so its Kafka key, is the call id.
    """

    event_type: ClassVar[str] = "kipina.award.evaluation_complete.v1"
    subject_kind: ClassVar[Literal["case", "call", "service"]] = "call"
    topic: ClassVar[str] = topics.AWARDS

    call_id: uuid.UUID
    call_title: str
    cases: int = Field(ge=1)  # evaluations scored and waiting for a decision

    def subject(self) -> str:
        return str(self.call_id)


# --------------------------------------------------------------------------- calls (intake announces them)


class CallAnnouncedV1(EventPayload):
    """A call opened or changed: everything other services know of a call, which intake owns.

    Every announcement carries the whole call at one ``revision`` (1 when created, one more per change),
    so a reader keeps the highest revision it has seen and ignores older ones. Its subject, and so its
    Kafka key, is the call id: one call's announcements stay in order.
    """

    event_type: ClassVar[str] = "kipina.call.announced.v1"
    subject_kind: ClassVar[Literal["case", "call", "service"]] = "call"
    topic: ClassVar[str] = topics.INTAKE

    call_id: uuid.UUID
    revision: int = Field(ge=1)
    title: str
    description: str = ""
    opens_at: datetime
    closes_at: datetime
    categories: list[Category]
    languages: list[Language]
    reviewers_per_iteration: int = Field(ge=1, le=2)
    criteria: list[Criterion]

    def subject(self) -> str:
        return str(self.call_id)


# --------------------------------------------------------------------------- operations (every service)


class DeadLetteredV1(EventPayload):
    """A service's consumer gave up on a message and put it on its dead-letter topic (operators hear of it).

    Written to the service's outbox with the dead letter itself. Its subject, and so its Kafka key, is the
    service's name. A dead letter of this event type announces nothing (no loop).
    """

    event_type: ClassVar[str] = "kipina.operations.dead_lettered.v1"
    subject_kind: ClassVar[Literal["case", "call", "service"]] = "service"
    topic: ClassVar[str] = topics.OPERATIONS

    service: str
    dead_letter_id: int
    source_topic: str
    source_partition: int
    source_offset: int
    event_type_seen: str | None = None  # the dead-lettered message's type, when it could be read
    reason: str
    error: str = Field(max_length=500)
    attempts: int = Field(ge=0)

    def subject(self) -> str:
        return self.service


# --------------------------------------------------------------------------- notify


class NotificationDeliveredV1(EventPayload):
    event_type: ClassVar[str] = "kipina.notification.delivered.v1"
    topic: ClassVar[str] = topics.NOTIFY

    delivery_id: uuid.UUID
    case_id: uuid.UUID
    source_event_id: uuid.UUID
    source_event_type: str
    channel: Channel
    recipient: str
    template: str
    attempts: int


class NotificationFailedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.notification.failed.v1"
    topic: ClassVar[str] = topics.NOTIFY

    delivery_id: uuid.UUID
    case_id: uuid.UUID
    source_event_id: uuid.UUID
    source_event_type: str
    channel: Channel
    recipient: str
    template: str
    attempts: int
    error: str


__all__ = [
    "CASE_HEADER_FIELDS",
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "QUALITY_INNOVATION_AWARD_CRITERIA",
    "AwardDecidedV1",
    "CallAnnouncedV1",
    "CaseHeader",
    "CaseNominatedV1",
    "CaseRejectedV1",
    "CaseRevisedV1",
    "CaseSnapshot",
    "CaseSubmittedV1",
    "CaseWithdrawnV1",
    "ChangesAnsweredV1",
    "ChangesRequestedV1",
    "CloudEvent",
    "Contact",
    "Criterion",
    "DeadLetteredV1",
    "DueReason",
    "EvaluationCompleteV1",
    "EvaluationOpenedV1",
    "EventPayload",
    "FeedbackItem",
    "IterationEscalatedV1",
    "IterationOpenedV1",
    "JurorsAssignedV1",
    "NotificationDeliveredV1",
    "NotificationFailedV1",
    "Organisation",
    "Person",
    "ResultsPublishedV1",
    "ScoringDueV1",
    "StageAdvancedV1",
    "TaskDueSoonV1",
    "UnknownEventType",
    "criteria_problems",
    "new_event",
    "parse_event",
]

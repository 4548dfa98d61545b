"""Event contracts: the CloudEvents 1.0 envelope and every versioned payload.

An event on the wire is one JSON object in CloudEvents *structured* mode
(``application/cloudevents+json``); the Kafka key is the case id (``subject``).
A payload change that breaks readers is a new ``.vN`` type, never an edit here.
Consumers ignore fields they do not know (pydantic's default ``extra="ignore"``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared import topics
from shared.vocabulary import AwardOutcome, Category, Channel, IsoStage, Language

CONTENT_TYPE = "application/cloudevents+json"


class EventPayload(BaseModel):
    """Base of every payload: knows its CloudEvents type and the topic it travels on."""

    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]

    @classmethod
    def dataschema(cls) -> str:
        return f"urn:kipina:schema:{cls.event_type}"


# --------------------------------------------------------------------------- envelope


class CloudEvent(BaseModel):
    """CloudEvents 1.0 envelope with Kipinä's ``correlationid``/``causationid`` extensions."""

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
    subject: str,
    correlation_id: str,
    causation_id: str | None = None,
    event_id: uuid.UUID | None = None,
) -> CloudEvent:
    """Wrap a payload in a fresh envelope. ``subject`` is the case id (the Kafka key)."""
    return CloudEvent(
        id=event_id or uuid.uuid4(),
        source=f"/kipina/{service}",
        type=payload.event_type,
        subject=subject,
        time=datetime.now(UTC),
        dataschema=payload.dataschema(),
        correlationid=correlation_id,
        causationid=causation_id,
        data=payload.model_dump(mode="json"),
    )


def follow_up(payload: EventPayload, *, service: str, cause: CloudEvent, subject: str | None = None) -> CloudEvent:
    """An event caused by ``cause``: same correlation id, causation id = the cause's id."""
    return new_event(
        payload,
        service=service,
        subject=subject or cause.subject,
        correlation_id=cause.correlationid,
        causation_id=str(cause.id),
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


class Organisation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    business_id: str


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


# --------------------------------------------------------------------------- intake


class CaseSubmittedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.case.submitted.v1"
    topic: ClassVar[str] = topics.INTAKE

    case: CaseSnapshot


class CaseRevisedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.case.revised.v1"
    topic: ClassVar[str] = topics.INTAKE

    case: CaseSnapshot
    change_note: str = ""


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


class CaseNominatedV1(EventPayload):
    """A case goes to award evaluation. Carries what awards needs so it never asks intake."""

    event_type: ClassVar[str] = "kipina.review.nominated.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    call_title: str
    iteration: int
    reviewer_ids: list[str]
    comment: str = ""
    title: str
    summary: str
    category: Category
    language: Language
    organisation_id: str
    organisation_name: str
    stage: IsoStage


class IterationEscalatedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.review.escalated.v1"
    topic: ClassVar[str] = topics.REVIEW

    case_id: uuid.UUID
    call_id: uuid.UUID
    iteration: int
    due_at: datetime


# --------------------------------------------------------------------------- awards


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    name: str
    weight: float = Field(gt=0)
    scale_min: int = 0
    scale_max: int = 5


class EvaluationOpenedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.award.evaluation_opened.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    criteria: list[Criterion]
    juror_ids: list[str]


class AwardDecidedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.award.decided.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    outcome: AwardOutcome
    weighted_score: float | None
    rank_in_category: int | None = None
    feedback: str = ""


class ResultsPublishedV1(EventPayload):
    event_type: ClassVar[str] = "kipina.award.results_published.v1"
    topic: ClassVar[str] = topics.AWARDS

    case_id: uuid.UUID
    call_id: uuid.UUID
    outcome: AwardOutcome


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


EVENT_TYPES: dict[str, type[EventPayload]] = {
    m.event_type: m
    for m in (
        CaseSubmittedV1,
        CaseRevisedV1,
        CaseWithdrawnV1,
        IterationOpenedV1,
        ChangesRequestedV1,
        StageAdvancedV1,
        CaseRejectedV1,
        CaseNominatedV1,
        IterationEscalatedV1,
        EvaluationOpenedV1,
        AwardDecidedV1,
        ResultsPublishedV1,
        NotificationDeliveredV1,
        NotificationFailedV1,
    )
}

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "AwardDecidedV1",
    "CaseNominatedV1",
    "CaseRejectedV1",
    "CaseRevisedV1",
    "CaseSnapshot",
    "CaseSubmittedV1",
    "CaseWithdrawnV1",
    "ChangesRequestedV1",
    "CloudEvent",
    "Contact",
    "Criterion",
    "EvaluationOpenedV1",
    "EventPayload",
    "FeedbackItem",
    "IterationEscalatedV1",
    "IterationOpenedV1",
    "NotificationDeliveredV1",
    "NotificationFailedV1",
    "Organisation",
    "ResultsPublishedV1",
    "StageAdvancedV1",
    "UnknownEventType",
    "follow_up",
    "new_event",
    "parse_event",
]

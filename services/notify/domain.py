"""Pure notification rules: who must hear about an event, with which template, and retry timing.

No I/O here. The stakeholder directory is stored from intake's snapshots because review
and awards events carry only the case id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared import topics
from shared.events import (
    EVENT_TYPES,
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    ChangesRequestedV1,
    EvaluationOpenedV1,
    EventPayload,
    IterationEscalatedV1,
    ResultsPublishedV1,
    StageAdvancedV1,
)
from shared.vocabulary import Language

# Every event type on the topics notify consumes; webhooks may subscribe to any of them.
CONSUMED_TOPICS: tuple[str, ...] = (topics.INTAKE, topics.REVIEW, topics.AWARDS)
CONSUMED_EVENTS: tuple[type[EventPayload], ...] = tuple(m for m in EVENT_TYPES.values() if m.topic in CONSUMED_TOPICS)
CONSUMED_EVENT_TYPES: frozenset[str] = frozenset(p.event_type for p in CONSUMED_EVENTS)


def unknown_event_types(event_types: list[str]) -> list[str]:
    return [t for t in event_types if t not in CONSUMED_EVENT_TYPES]


class Template(StrEnum):
    CASE_SUBMITTED = "case_submitted"
    CHANGES_REQUESTED = "changes_requested"
    STAGE_ADVANCED = "stage_advanced"
    CASE_REJECTED = "case_rejected"
    CASE_NOMINATED = "case_nominated"
    EVALUATION_OPENED = "evaluation_opened"
    AWARD_DECIDED = "award_decided"
    RESULTS_PUBLISHED = "results_published"
    ITERATION_ESCALATED = "iteration_escalated"


class Audience(StrEnum):
    SUBMITTER = "submitter"
    SUBMITTER_AND_TEAM = "submitter_and_team"
    EVERYONE = "everyone"  # submitter, team and partners
    OPERATORS = "operators"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Stakeholder:
    name: str
    email: str
    language: Language
    user_id: str | None = None  # known only for the submitter: gets in-app feed items too


@dataclass(frozen=True)
class Directory:
    """Who is attached to a case, as last submitted/revised."""

    case_id: uuid.UUID
    call_id: uuid.UUID
    call_title: str
    case_title: str
    revision: int
    submitter: Stakeholder
    team: tuple[Stakeholder, ...] = ()
    partners: tuple[Stakeholder, ...] = ()


@dataclass(frozen=True)
class Notice:
    """One message to one stakeholder, before rendering."""

    recipient: Stakeholder
    template: Template
    context: dict[str, Any] = field(default_factory=dict)


def directory_from_snapshot(case: CaseSnapshot) -> Directory:
    return Directory(
        case_id=case.case_id,
        call_id=case.call_id,
        call_title=case.call_title,
        case_title=case.title,
        revision=case.revision,
        submitter=Stakeholder(
            name=case.submitter.name,
            email=str(case.submitter.email),
            language=case.submitter.language,
            user_id=case.submitter_id,
        ),
        team=tuple(Stakeholder(name=c.name, email=str(c.email), language=c.language) for c in case.team),
        partners=tuple(Stakeholder(name=c.name, email=str(c.email), language=c.language) for c in case.partners),
    )


def should_replace_directory(*, stored_revision: int | None, incoming_revision: int) -> bool:
    """A late, older snapshot must not overwrite a newer one."""
    return stored_revision is None or incoming_revision >= stored_revision


def audience_members(audience: Audience, directory: Directory, *, operator_emails: list[str]) -> list[Stakeholder]:
    """The people of an audience, each address once (first occurrence wins: the submitter keeps its user id)."""
    match audience:
        case Audience.SUBMITTER:
            people = [directory.submitter]
        case Audience.SUBMITTER_AND_TEAM:
            people = [directory.submitter, *directory.team]
        case Audience.EVERYONE:
            people = [directory.submitter, *directory.team, *directory.partners]
        case Audience.OPERATORS:
            people = [Stakeholder(name="Kipinä operator", email=e, language=Language.EN) for e in operator_emails]
    seen: set[str] = set()
    unique: list[Stakeholder] = []
    for person in people:
        key = person.email.strip().lower()
        if key and key not in seen:
            seen.add(key)
            unique.append(person)
    return unique


def what_to_tell(payload: EventPayload) -> tuple[Template, Audience, dict[str, Any]] | None:
    """The template, audience and event-specific context of an event; None if it concerns nobody."""
    match payload:
        case CaseSubmittedV1():
            return Template.CASE_SUBMITTED, Audience.SUBMITTER, {"revision": payload.case.revision}
        case ChangesRequestedV1():
            return (
                Template.CHANGES_REQUESTED,
                Audience.SUBMITTER_AND_TEAM,
                {
                    "iteration": payload.iteration,
                    "comment": payload.comment,
                    "feedback": [f.model_dump() for f in payload.feedback],
                },
            )
        case StageAdvancedV1():
            return (
                Template.STAGE_ADVANCED,
                Audience.SUBMITTER_AND_TEAM,
                {
                    "iteration": payload.iteration,
                    "from_stage": str(payload.from_stage),
                    "to_stage": str(payload.to_stage),
                    "comment": payload.comment,
                },
            )
        case CaseRejectedV1():
            return (
                Template.CASE_REJECTED,
                Audience.SUBMITTER_AND_TEAM,
                {
                    "iteration": payload.iteration,
                    "comment": payload.comment,
                    "feedback": [f.model_dump() for f in payload.feedback],
                },
            )
        case CaseNominatedV1():
            return Template.CASE_NOMINATED, Audience.SUBMITTER_AND_TEAM, {"comment": payload.comment}
        case EvaluationOpenedV1():
            return Template.EVALUATION_OPENED, Audience.SUBMITTER, {}
        case AwardDecidedV1():
            return (
                Template.AWARD_DECIDED,
                Audience.EVERYONE,
                {
                    "outcome": str(payload.outcome),
                    "weighted_score": payload.weighted_score,
                    "rank_in_category": payload.rank_in_category,
                    "feedback_text": payload.feedback,
                },
            )
        case ResultsPublishedV1():
            return Template.RESULTS_PUBLISHED, Audience.EVERYONE, {"outcome": str(payload.outcome)}
        case IterationEscalatedV1():
            return (
                Template.ITERATION_ESCALATED,
                Audience.OPERATORS,
                {"iteration": payload.iteration, "due_at": payload.due_at.isoformat()},
            )
        case _:
            return None


def plan_notices(payload: EventPayload, directory: Directory, *, operator_emails: list[str]) -> list[Notice]:
    """Who must hear about ``payload`` and with which template (empty: nobody)."""
    told = what_to_tell(payload)
    if told is None:
        return []
    template, audience, extra = told
    base = {
        "case_id": str(directory.case_id),
        "case_title": directory.case_title,
        "call_title": directory.call_title,
    }
    return [
        Notice(recipient=person, template=template, context={**base, **extra, "recipient_name": person.name})
        for person in audience_members(audience, directory, operator_emails=operator_emails)
    ]


def case_id_of(payload: EventPayload) -> uuid.UUID:
    """The case an event is about (intake's snapshots nest it; the others carry it at the top)."""
    match payload:
        case CaseSubmittedV1() | CaseRevisedV1():
            return payload.case.case_id
        case _:
            case_id = getattr(payload, "case_id", None)
            if not isinstance(case_id, uuid.UUID):
                raise ValueError(f"{type(payload).__name__} names no case")
            return case_id


def wants_event(subscribed_types: list[str], event_type: str) -> bool:
    """A webhook subscription with no types gets every event."""
    return not subscribed_types or event_type in subscribed_types


# --------------------------------------------------------------------------- delivery retries


def retry_delay_s(*, attempts: int, base_s: float, max_s: float) -> float:
    """Exponential backoff after the ``attempts``-th failed attempt: base, 2·base, 4·base … capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


def after_failure(*, attempts: int, max_attempts: int) -> DeliveryStatus:
    """Pending again (retry later) or failed for good."""
    return DeliveryStatus.FAILED if attempts >= max_attempts else DeliveryStatus.PENDING


def webhook_succeeded(status_code: int) -> bool:
    return 200 <= status_code < 300

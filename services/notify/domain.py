"""Pure notification rules: who must hear about an event, with which template, and retry timing;
and the records notify keeps (directory, deliveries, feed items, webhook subscriptions).

No I/O here. The stakeholder directory is stored from intake's snapshots because review
and awards events carry only the case id.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared import topics
from shared.events import (
    EVENT_TYPES,
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    ChangesRequestedV1,
    EvaluationOpenedV1,
    EventPayload,
    IterationEscalatedV1,
    ResultsPublishedV1,
    StageAdvancedV1,
)
from shared.vocabulary import Channel, Language

# What notify listens to: every event of intake, review and awards. The event router registers a
# handler for each (so the topics follow from it), and webhooks may subscribe to any of them.
CONSUMED_EVENTS: tuple[type[EventPayload], ...] = tuple(
    p for p in EVENT_TYPES.values() if p.topic in (topics.INTAKE, topics.REVIEW, topics.AWARDS)
)
CONSUMED_EVENT_TYPES: frozenset[str] = frozenset(p.event_type for p in CONSUMED_EVENTS)

# Events whose content is embargoed (docs/design.md, "The embargo"): the jury's decision, with outcome, score,
# rank and feedback, is for operators and jurors only. A webhook is a channel out of Kipinä (an agency's
# system), so these are never delivered to one, before publication or after: the result a webhook gets is
# kipina.award.results_published.v1, which carries what was released.
EMBARGOED_EVENT_TYPES: frozenset[str] = frozenset({AwardDecidedV1.event_type})
WEBHOOK_EVENT_TYPES: frozenset[str] = CONSUMED_EVENT_TYPES - EMBARGOED_EVENT_TYPES


def unknown_event_types(event_types: Iterable[str]) -> list[str]:
    return [t for t in event_types if t not in CONSUMED_EVENT_TYPES]


def embargoed_event_types(event_types: Iterable[str]) -> list[str]:
    """The types among ``event_types`` that no webhook may subscribe to."""
    return [t for t in event_types if t in EMBARGOED_EVENT_TYPES]


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
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker, under a lease
    DELIVERED = "delivered"
    FAILED = "failed"  # for good: attempts exhausted, or a permanent error


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
        # Embargoed: the case's people hear nothing until the results are published (ResultsPublishedV1).
        case AwardDecidedV1():
            return (
                Template.AWARD_DECIDED,
                Audience.OPERATORS,
                {
                    "outcome": str(payload.outcome),
                    "weighted_score": payload.weighted_score,
                    "rank_in_category": payload.rank_in_category,
                    "feedback_text": payload.feedback,
                },
            )
        # The released result: each of the case's people learns its outcome and the jury's feedback.
        case ResultsPublishedV1():
            return (
                Template.RESULTS_PUBLISHED,
                Audience.EVERYONE,
                {"outcome": str(payload.outcome), "feedback_text": payload.feedback},
            )
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


def wants_event(subscribed_types: Collection[str], event_type: str) -> bool:
    """A webhook subscription with no types gets every event but the embargoed ones, which no webhook gets."""
    if event_type in EMBARGOED_EVENT_TYPES:
        return False
    return not subscribed_types or event_type in subscribed_types


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Delivery:
    """One message on one channel to one recipient (an email address, or a webhook subscription's id),
    answering one event.

    ``traceparent``/``tracestate`` are the trace context current when it was recorded (the consumer's
    span), so sending it and its outcome event continue the case's trace.
    """

    id: uuid.UUID
    case_id: uuid.UUID
    source_event_id: uuid.UUID
    source_event_type: str
    correlation_id: str
    channel: Channel
    recipient: str
    recipient_name: str
    webhook_id: uuid.UUID | None
    language: str
    template: str
    subject: str
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass(frozen=True)
class DueDelivery:
    """A delivery a worker has claimed, with its webhook's target (Nones and inactive for email)."""

    delivery: Delivery
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_active: bool = False


@dataclass(frozen=True)
class FeedItem:
    """An in-app notification of one user."""

    id: uuid.UUID
    case_id: uuid.UUID
    template: str
    language: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class WebhookSubscription:
    """An endpoint that receives the events it subscribed to (all when ``event_types`` is empty)."""

    id: uuid.UUID
    url: str
    event_types: tuple[str, ...]
    created_by: str
    created_at: datetime


# --------------------------------------------------------------------------- delivery retries


# An attempt's error is kept (and announced) up to this many characters.
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class RetryPolicy:
    """How often a delivery is attempted, and how long to wait between attempts."""

    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float


def retry_delay_s(*, attempts: int, base_s: float, max_s: float) -> float:
    """Exponential backoff after the ``attempts``-th failed attempt: base, 2·base, 4·base … capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


def after_failure(*, attempts: int, max_attempts: int, permanent: bool = False) -> DeliveryStatus:
    """Pending again (retry later) or failed for good (attempts exhausted, or an error no retry can fix)."""
    return DeliveryStatus.FAILED if permanent or attempts >= max_attempts else DeliveryStatus.PENDING


def webhook_succeeded(status_code: int) -> bool:
    return 200 <= status_code < 300

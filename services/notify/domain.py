"""Pure notification rules: who must hear about an event, with which template, and retry timing;
and the records notify keeps (directory, deliveries, feed items, webhook subscriptions).

No I/O here. Who hears what is ``what_to_tell`` (docs/people.md): the submitter, team and partners come
from the directory stored from intake's case snapshots; reviewers and jurors from the events that address
them (``shared.events.Person``); operators from the settings.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from shared import topics
from shared.events import (
    EVENT_TYPES,
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    ChangesAnsweredV1,
    ChangesRequestedV1,
    DeadLetteredV1,
    EvaluationCompleteV1,
    EventPayload,
    FeedbackItem,
    IterationEscalatedV1,
    JurorsAssignedV1,
    Person,
    ResultsPublishedV1,
    ScoringDueV1,
    StageAdvancedV1,
    TaskDueSoonV1,
)
from shared.vocabulary import Channel, Language

# What notify listens to: every event of intake, review and awards, and the operations topic's. The event
# router registers a handler for each (so the topics follow from it), and webhooks may subscribe to most.
CONSUMED_EVENTS: tuple[type[EventPayload], ...] = tuple(
    p for p in EVENT_TYPES.values() if p.topic in (topics.INTAKE, topics.REVIEW, topics.AWARDS, topics.OPERATIONS)
)
CONSUMED_EVENT_TYPES: frozenset[str] = frozenset(p.event_type for p in CONSUMED_EVENTS)

# Events whose content is embargoed (docs/design.md, "The embargo"): the jury's decision, with outcome, score,
# rank and feedback, is for operators and jurors only. A webhook is a channel out of Kipinä (an agency's
# system), so these are never delivered to one, before publication or after: the result a webhook gets is
# kipina.award.results_published.v1, which carries what was released.
EMBARGOED_EVENT_TYPES: frozenset[str] = frozenset({AwardDecidedV1.event_type})
# Events that exist to address one person (a reviewer's or juror's contact, docs/people.md): they are for that
# person, not for an agency's system, so no webhook gets them either.
ADDRESSED_EVENT_TYPES: frozenset[str] = frozenset(
    p.event_type for p in (TaskDueSoonV1, ChangesAnsweredV1, JurorsAssignedV1, ScoringDueV1)
)
NOT_FOR_WEBHOOKS: frozenset[str] = EMBARGOED_EVENT_TYPES | ADDRESSED_EVENT_TYPES
WEBHOOK_EVENT_TYPES: frozenset[str] = CONSUMED_EVENT_TYPES - NOT_FOR_WEBHOOKS


def unknown_event_types(event_types: Iterable[str]) -> list[str]:
    return [t for t in event_types if t not in CONSUMED_EVENT_TYPES]


def embargoed_event_types(event_types: Iterable[str]) -> list[str]:
    """The types among ``event_types`` that no webhook may subscribe to (embargoed, or addressed to a person)."""
    return [t for t in event_types if t in NOT_FOR_WEBHOOKS]


class Template(StrEnum):
    # the submitter and the team (partners too for the published result)
    CASE_SUBMITTED = "case_submitted"
    REVISION_RECEIVED = "revision_received"
    WITHDRAWAL_CONFIRMED = "withdrawal_confirmed"
    CHANGES_REQUESTED = "changes_requested"
    STAGE_ADVANCED = "stage_advanced"
    CASE_REJECTED = "case_rejected"
    CASE_NOMINATED = "case_nominated"
    RESULTS_PUBLISHED = "results_published"
    # reviewers
    TASK_DUE_SOON = "task_due_soon"
    CHANGES_ANSWERED = "changes_answered"
    # jurors
    JURORS_ASSIGNED = "jurors_assigned"
    SCORING_DUE = "scoring_due"
    CASE_DECIDED = "case_decided"
    # operators
    AWARD_DECIDED = "award_decided"
    EVALUATION_COMPLETE = "evaluation_complete"
    ITERATION_ESCALATED = "iteration_escalated"
    DEAD_LETTERED = "dead_lettered"


class Audience(StrEnum):
    SUBMITTER_AND_TEAM = "submitter_and_team"  # from the case's directory
    EVERYONE = "everyone"  # submitter, team and partners
    OPERATORS = "operators"  # KIPINA_NOTIFY_OPERATOR_EMAILS
    ADDRESSED = "addressed"  # the people the event itself names (reviewers, jurors)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker, under a lease
    DELIVERED = "delivered"
    FAILED = "failed"  # for good: attempts exhausted, or a permanent error


@dataclass(frozen=True)
class Stakeholder:
    name: str
    email: str  # "" when unknown: then the person is told in-app only
    language: Language
    user_id: str | None = None  # known for the submitter, reviewers and jurors: they get in-app feed items too


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
    """One message to one person, before rendering."""

    recipient: Stakeholder
    template: Template
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Telling:
    """What an event tells one audience: the template and the event's part of its context.

    ``people`` are the addressed ones (Audience.ADDRESSED). Events addressed to reviewers and jurors carry the
    case's and call's titles in their context, so they do not depend on the case's directory being stored yet.
    """

    template: Template
    audience: Audience
    context: dict[str, Any] = field(default_factory=dict)
    people: tuple[Person, ...] = ()


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


def stakeholder_of(person: Person) -> Stakeholder:
    return Stakeholder(
        name=person.name or person.user_id,
        email=str(person.email or ""),
        language=person.language,
        user_id=person.user_id,
    )


def audience_members(
    telling: Telling, directory: Directory | None, *, operator_emails: Sequence[str]
) -> list[Stakeholder]:
    """The people of an audience, each once (by email address, else by user id; the first occurrence wins,
    so the submitter keeps its user id). A directory audience without a directory is nobody."""
    match telling.audience:
        case Audience.SUBMITTER_AND_TEAM:
            people = [directory.submitter, *directory.team] if directory else []
        case Audience.EVERYONE:
            people = [directory.submitter, *directory.team, *directory.partners] if directory else []
        case Audience.OPERATORS:
            people = [Stakeholder(name="Kipinä operator", email=e, language=Language.EN) for e in operator_emails]
        case Audience.ADDRESSED:
            people = [stakeholder_of(p) for p in telling.people]
    seen: set[str] = set()
    unique: list[Stakeholder] = []
    for person in people:
        key = person.email.strip().lower() or f"user:{person.user_id or ''}"
        if key not in ("", "user:") and key not in seen:
            seen.add(key)
            unique.append(person)
    return unique


def _feedback(items: Sequence[FeedbackItem]) -> list[dict[str, Any]]:
    return [f.model_dump() for f in items]


def what_to_tell(payload: EventPayload) -> list[Telling]:
    """Whom an event concerns, with which template and the event's context; empty if nobody.

    docs/people.md has this table in words: keep the two alike.
    """
    match payload:
        # ----- the submitter and every team member
        case CaseSubmittedV1():
            return [Telling(Template.CASE_SUBMITTED, Audience.SUBMITTER_AND_TEAM, {"revision": payload.case.revision})]
        case CaseRevisedV1():
            return [
                Telling(
                    Template.REVISION_RECEIVED,
                    Audience.SUBMITTER_AND_TEAM,
                    {"revision": payload.case.revision, "addressed": len(payload.addressed_points)},
                )
            ]
        case CaseWithdrawnV1():
            return [Telling(Template.WITHDRAWAL_CONFIRMED, Audience.SUBMITTER_AND_TEAM, {"reason": payload.reason})]
        case ChangesRequestedV1():
            context = {
                "iteration": payload.iteration,
                "comment": payload.comment,
                "feedback": _feedback(payload.feedback),
            }
            return [Telling(Template.CHANGES_REQUESTED, Audience.SUBMITTER_AND_TEAM, context)]
        case StageAdvancedV1():
            context = {
                "iteration": payload.iteration,
                "from_stage": str(payload.from_stage),
                "to_stage": str(payload.to_stage),
                "comment": payload.comment,
            }
            return [Telling(Template.STAGE_ADVANCED, Audience.SUBMITTER_AND_TEAM, context)]
        case CaseRejectedV1():
            context = {
                "iteration": payload.iteration,
                "comment": payload.comment,
                "feedback": _feedback(payload.feedback),
            }
            return [Telling(Template.CASE_REJECTED, Audience.SUBMITTER_AND_TEAM, context)]
        case CaseNominatedV1():
            return [Telling(Template.CASE_NOMINATED, Audience.SUBMITTER_AND_TEAM, {"comment": payload.comment})]
        # The released result: each of the case's people learns its outcome and the jury's feedback.
        case ResultsPublishedV1():
            context = {"outcome": str(payload.outcome), "feedback_text": payload.feedback}
            return [Telling(Template.RESULTS_PUBLISHED, Audience.EVERYONE, context)]
        # ----- reviewers
        case TaskDueSoonV1():
            context = {
                **_titles(payload.case_title, payload.call_title),
                "iteration": payload.iteration,
                "reason": str(payload.reason),
                "due_at": _when(payload.due_at),
            }
            return [Telling(Template.TASK_DUE_SOON, Audience.ADDRESSED, context, (payload.reviewer,))]
        case ChangesAnsweredV1():
            context = {
                **_titles(payload.case_title, payload.call_title),
                "iteration": payload.iteration,
                "revision": payload.revision,
                "addressed": len(payload.addressed_points),
                "open_points": payload.open_points,
            }
            return [Telling(Template.CHANGES_ANSWERED, Audience.ADDRESSED, context, tuple(payload.reviewers))]
        # ----- jurors
        case JurorsAssignedV1():
            context = {**_titles(payload.case_title, payload.call_title), "due_at": _when(payload.scoring_due_at)}
            return [Telling(Template.JURORS_ASSIGNED, Audience.ADDRESSED, context, tuple(payload.jurors))]
        case ScoringDueV1():
            context = {**_titles(payload.case_title, payload.call_title), "due_at": _when(payload.due_at)}
            return [Telling(Template.SCORING_DUE, Audience.ADDRESSED, context, (payload.juror,))]
        # Embargoed: the case's people hear nothing until the results are published (ResultsPublishedV1); the
        # operators get the decision, and the jurors who scored the case learn that it was decided (and how).
        case AwardDecidedV1():
            context = {
                "outcome": str(payload.outcome),
                "weighted_score": payload.weighted_score,
                "rank_in_category": payload.rank_in_category,
                "feedback_text": payload.feedback,
            }
            return [
                Telling(Template.AWARD_DECIDED, Audience.OPERATORS, context),
                Telling(Template.CASE_DECIDED, Audience.ADDRESSED, context, tuple(payload.scored_by)),
            ]
        # ----- operators
        case EvaluationCompleteV1():
            context = {"call_id": str(payload.call_id), "call_title": payload.call_title, "cases": payload.cases}
            return [Telling(Template.EVALUATION_COMPLETE, Audience.OPERATORS, context)]
        case IterationEscalatedV1():
            context = {"iteration": payload.iteration, "due_at": _when(payload.due_at)}
            return [Telling(Template.ITERATION_ESCALATED, Audience.OPERATORS, context)]
        case DeadLetteredV1():
            context = {
                "service": payload.service,
                "dead_letter_id": payload.dead_letter_id,
                "source": f"{payload.source_topic}/{payload.source_partition}@{payload.source_offset}",
                "event_type_seen": payload.event_type_seen or "",
                "reason": payload.reason,
                "error": payload.error,
            }
            return [Telling(Template.DEAD_LETTERED, Audience.OPERATORS, context)]
        case _:
            return []


def _titles(case_title: str, call_title: str) -> dict[str, str]:
    return {"case_title": case_title, "call_title": call_title}


def _when(at: datetime) -> str:
    """A time as people read it in an email: UTC, to the minute."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def case_of(payload: EventPayload) -> uuid.UUID | None:
    """The case an event is about; None for events about a call or the running system."""
    case_id = getattr(payload, "case_id", None)
    if isinstance(case_id, uuid.UUID):
        return case_id
    case = getattr(payload, "case", None)
    return case.case_id if isinstance(case, CaseSnapshot) else None


def needs_directory(tellings: Sequence[Telling]) -> bool:
    return any(t.audience in (Audience.SUBMITTER_AND_TEAM, Audience.EVERYONE) for t in tellings)


def plan_notices(payload: EventPayload, directory: Directory | None, *, operator_emails: Sequence[str]) -> list[Notice]:
    """Who must hear about ``payload`` and with which template (empty: nobody).

    The case's titles come from its directory when notify has it, else from the event itself.
    """
    notices: list[Notice] = []
    for telling in what_to_tell(payload):
        base: dict[str, Any] = {}
        if directory is not None:
            base = {"case_id": str(directory.case_id), **_titles(directory.case_title, directory.call_title)}
        elif (case_id := case_of(payload)) is not None:
            base = {"case_id": str(case_id), **_titles("", "")}
        context = {**base, **telling.context}
        notices.extend(
            Notice(recipient=person, template=telling.template, context={**context, "recipient_name": person.name})
            for person in audience_members(telling, directory, operator_emails=operator_emails)
        )
    return notices


@dataclass(frozen=True)
class NotifyRules:
    """What the settings say about whom to tell: the operators' addresses, and how often of dead letters."""

    operator_emails: tuple[str, ...] = ()
    dead_letter_alert_window_minutes: float = 60.0


def alert_window(at: datetime, *, minutes: float) -> datetime:
    """The start of the window ``at`` falls in: operators hear of a service's dead letters once per window."""
    width = max(1, int(minutes * 60))
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % width, tz=UTC)


def wants_event(subscribed_types: Collection[str], event_type: str) -> bool:
    """A webhook subscription with no types gets every event but those no webhook gets (NOT_FOR_WEBHOOKS)."""
    if event_type in NOT_FOR_WEBHOOKS:
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
    case_id: uuid.UUID | None  # None for a message about a call or the running system
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
    webhook_secret: str | None = None  # sealed (services/notify/sealing.py): the worker opens it to sign
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


# --------------------------------------------------------------------------- where a webhook may point

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

WEBHOOK_SCHEMES = frozenset({"http", "https"})
# Cloud metadata services answer on names as well as on 169.254.169.254 / fd00:ec2::254 (refused as link-local
# and unique-local addresses): a webhook that reached one would hand an operator the machine's credentials.
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped ::ffff:a.b.c.d, 6to4, NAT64), which is what it reaches."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def webhook_address_problem(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why a webhook may not be sent to ``address`` (None when it may): only public unicast addresses are
    reachable from a webhook, so an operator cannot point notify at Kipinä's own network, the machine's
    metadata service or a local port. ``allow_loopback`` lets development use receivers on 127.0.0.1."""
    if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded_ipv4(address)) is not None:
        problem = webhook_address_problem(inner, allow_loopback=allow_loopback)
        return f"{address} is {problem.removeprefix(f'{inner} is ')} (as {inner})" if problem else None
    if address.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_link_local:
        return f"{address} is a link-local address (where cloud metadata services answer)"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_reserved or not address.is_global:
        return f"{address} is a reserved address, not a public one"
    return None


def webhook_url_problem(url: str, *, allow_loopback: bool) -> str | None:
    """What is wrong with a webhook's URL on its face, before any name is resolved: its scheme, a missing host,
    a metadata service's name, ``localhost``, or a literal address that ``webhook_address_problem`` refuses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in WEBHOOK_SCHEMES:
        return f"the scheme {parts.scheme or '(none)'!r} is not http or https"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL names no host"
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    if host == "localhost" or host.endswith(".localhost"):
        return None if allow_loopback else f"{host} is a loopback name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked when it is resolved
    return webhook_address_problem(address, allow_loopback=allow_loopback)


def webhook_succeeded(status_code: int) -> bool:
    return 200 <= status_code < 300


@dataclass(frozen=True)
class WebhookActivity:
    """Webhook deliveries attempted lately (the operator dashboard's webhook check)."""

    deliveries: int  # attempted within the window
    failed: int  # of those, whose latest attempt failed (to be retried, or failed for good)
    failing_subscriptions: int  # subscriptions with such a delivery
    last_success: datetime | None  # the latest delivered webhook within the look-back

    @property
    def healthy(self) -> bool:
        """Healthy while no delivery's latest attempt within the window failed (none attempted is healthy too)."""
        return self.failed == 0

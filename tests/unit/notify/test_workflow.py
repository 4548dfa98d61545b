"""Notify's use cases on an in-memory repository: what is recorded for an event, and how an attempt ends."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from services.notify import domain, workflow
from services.notify.domain import (
    Delivery,
    DeliveryStatus,
    Directory,
    FeedItem,
    NotifyRules,
    RetryPolicy,
    WebhookSubscription,
)
from shared import tracing
from shared.errors import NotFound
from shared.events import (
    AwardDecidedV1,
    CaseRejectedV1,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    Contact,
    DeadLetteredV1,
    EventPayload,
    JurorsAssignedV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
    Organisation,
    Person,
    ResultsPublishedV1,
    new_event,
)
from shared.vocabulary import AwardOutcome, Category, Channel, IsoStage, Language
from tests.support.fakes import FakeUnitOfWork

CASE_ID = uuid.UUID("00000000-0000-0000-0000-0000000000c1")
NOW = datetime(2025, 1, 1, tzinfo=UTC)
RETRY = RetryPolicy(max_attempts=3, backoff_base_s=2.0, backoff_max_s=60.0)
PUBLISHES = (NotificationDeliveredV1, NotificationFailedV1)
NO_OPERATORS = NotifyRules()
OPERATORS = NotifyRules(operator_emails=("ops@example.org",), dead_letter_alert_window_minutes=60)


class FakeNotifyRepository:
    """The part of NotifyRepository the use cases under test call, in memory."""

    def __init__(self) -> None:
        self.directories: dict[uuid.UUID, Directory] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.feed_items: list[dict[str, Any]] = []
        self.webhooks: list[WebhookSubscription] = []
        self.marked: list[tuple[str, dict[str, Any]]] = []
        self.lease_held = True
        self.alert_windows: set[tuple[str, datetime]] = set()
        self.awaiting: list[tuple[uuid.UUID, uuid.UUID, bytes]] = []

    async def claim_alert_window(self, *, service: str, window_start: datetime) -> bool:
        if (service, window_start) in self.alert_windows:
            return False
        self.alert_windows.add((service, window_start))
        return True

    async def stored_revision(self, case_id: uuid.UUID) -> int | None:
        directory = self.directories.get(case_id)
        return directory.revision if directory else None

    async def save_directory(self, directory: Directory) -> None:
        self.directories[directory.case_id] = directory

    async def get_directory(self, case_id: uuid.UUID) -> Directory | None:
        return self.directories.get(case_id)

    async def await_directory(self, *, case_id: uuid.UUID, event_id: uuid.UUID, event: bytes) -> None:
        if all(e != event_id for _, e, _ in self.awaiting):
            self.awaiting.append((case_id, event_id, event))

    async def take_awaiting_directory(self, case_id: uuid.UUID) -> list[bytes]:
        taken = [raw for c, _, raw in self.awaiting if c == case_id]
        self.awaiting = [w for w in self.awaiting if w[0] != case_id]
        return taken

    async def active_webhooks(self) -> list[WebhookSubscription]:
        return list(self.webhooks)

    async def record_delivery(self, **fields: Any) -> bool:
        key = (fields["source_event_id"], fields["channel"], fields["recipient"])
        if any((d["source_event_id"], d["channel"], d["recipient"]) == key for d in self.deliveries):
            return False
        self.deliveries.append(fields)
        return True

    async def record_feed_item(self, **fields: Any) -> bool:
        self.feed_items.append(fields)
        return True

    async def mark_delivered(self, **fields: Any) -> bool:
        self.marked.append(("delivered", fields))
        return self.lease_held

    async def mark_attempt_failed(self, **fields: Any) -> bool:
        self.marked.append(("failed_attempt", fields))
        return self.lease_held

    async def mark_feed_item_read(self, *, user_id: str, item_id: uuid.UUID) -> FeedItem | None:
        return None

    async def delete_webhook(self, webhook_id: uuid.UUID) -> bool:
        return False


def uow(repo: FakeNotifyRepository) -> Any:
    return FakeUnitOfWork(repo, service="notify", publishes=PUBLISHES)


def snapshot(*, revision: int = 1) -> CaseSnapshot:
    return CaseSnapshot(
        case_id=CASE_ID,
        call_id=uuid.uuid4(),
        call_title="Call",
        revision=revision,
        title=f"Case r{revision}",
        summary="s",
        problem="p",
        solution="x",
        organisation=Organisation(id="org-1", name="Org", business_id="1234567-8"),
        submitter_id="user-1",
        submitter=Contact(name="Aino", email="aino@example.org", language=Language.FI),
        team=[Contact(name="Björn", email="bjorn@example.org", language=Language.SV)],
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        iso_stage=IsoStage.CONCEPT,
    )


def webhook(*event_types: str) -> WebhookSubscription:
    return WebhookSubscription(
        id=uuid.uuid4(), url="http://hook.example/h", event_types=event_types, created_by="op", created_at=NOW
    )


def delivery(*, attempts: int = 1, channel: Channel = Channel.EMAIL) -> Delivery:
    return Delivery(
        id=uuid.uuid4(),
        case_id=CASE_ID,
        source_event_id=uuid.uuid4(),
        source_event_type="kipina.case.submitted.v1",
        correlation_id="corr-1",
        channel=channel,
        recipient="aino@example.org",
        recipient_name="Aino",
        webhook_id=None,
        language="fi",
        template="case_submitted",
        subject="s",
        body="b",
        status=DeliveryStatus.SENDING,
        attempts=attempts,
        next_attempt_at=NOW,
        lease_until=NOW,
        last_error=None,
        created_at=NOW,
        delivered_at=None,
    )


def event_of(payload: EventPayload) -> Any:
    return new_event(payload, service="test", correlation_id="corr-1")


# --------------------------------------------------------------------------- events


async def test_a_submission_stores_the_directory_and_records_an_email_and_a_feed_item() -> None:
    repo = FakeNotifyRepository()
    payload = CaseSubmittedV1(case=snapshot())
    work = uow(repo)
    await workflow.refresh_directory_and_notify(uow=work, event=event_of(payload), payload=payload, rules=NO_OPERATORS)
    assert work.commits == 1
    assert repo.directories[CASE_ID].revision == 1
    assert [(d["channel"], d["recipient"], d["template"]) for d in repo.deliveries] == [
        (Channel.EMAIL, "aino@example.org", "case_submitted"),
        (Channel.EMAIL, "bjorn@example.org", "case_submitted"),
    ]
    assert repo.deliveries[0]["correlation_id"] == "corr-1"
    assert [f["user_id"] for f in repo.feed_items] == ["user-1"]


async def test_an_event_read_before_the_cases_snapshot_is_told_to_its_people_when_the_snapshot_arrives() -> None:
    # Review's topic and intake's are read independently: the rejection can come before the submission.
    repo = FakeNotifyRepository()
    hook = webhook("kipina.review.rejected.v1")
    repo.webhooks = [hook]
    rejected = CaseRejectedV1(case_id=CASE_ID, call_id=uuid.uuid4(), iteration=1, reviewer_ids=["r1"], comment="No.")
    rejection = event_of(rejected)
    await workflow.notify_stakeholders(uow=uow(repo), event=rejection, payload=rejected, rules=NO_OPERATORS)
    await workflow.notify_stakeholders(uow=uow(repo), event=rejection, payload=rejected, rules=NO_OPERATORS)  # again
    assert [d["webhook_id"] for d in repo.deliveries] == [hook.id]  # nobody else known yet
    assert [e for _, e, _ in repo.awaiting] == [rejection.id]  # kept once

    submission = CaseSubmittedV1(case=snapshot())
    await workflow.refresh_directory_and_notify(
        uow=uow(repo), event=event_of(submission), payload=submission, rules=NO_OPERATORS
    )
    emails = [(d["template"], d["recipient"]) for d in repo.deliveries if d["channel"] == Channel.EMAIL]
    assert emails == [
        ("case_submitted", "aino@example.org"),
        ("case_submitted", "bjorn@example.org"),
        ("case_rejected", "aino@example.org"),
        ("case_rejected", "bjorn@example.org"),
    ]
    rejected_mail = [d for d in repo.deliveries if d["template"] == "case_rejected"]
    assert all(d["source_event_id"] == rejection.id and d["subject"] for d in rejected_mail)
    assert [d["webhook_id"] for d in repo.deliveries if d["channel"] == Channel.WEBHOOK] == [hook.id]  # not again
    assert repo.awaiting == []

    revision = CaseRevisedV1(case=snapshot(revision=2), change_note="n")
    await workflow.refresh_directory_and_notify(
        uow=uow(repo), event=event_of(revision), payload=revision, rules=NO_OPERATORS
    )
    assert sum(d["template"] == "case_rejected" for d in repo.deliveries) == 2  # told once


async def test_an_older_snapshot_leaves_the_newer_directory() -> None:
    repo = FakeNotifyRepository()
    repo.directories[CASE_ID] = domain.directory_from_snapshot(snapshot(revision=3))
    payload = CaseRevisedV1(case=snapshot(revision=2))
    await workflow.refresh_directory_and_notify(
        uow=uow(repo), event=event_of(payload), payload=payload, rules=NO_OPERATORS
    )
    assert repo.directories[CASE_ID].revision == 3
    # The late snapshot is still a revision received: its people (of the newer directory) hear of it.
    assert [(d["recipient"], d["template"]) for d in repo.deliveries] == [
        ("aino@example.org", "revision_received"),
        ("bjorn@example.org", "revision_received"),
    ]


async def test_webhooks_get_the_events_they_subscribed_to_even_those_that_concern_nobody() -> None:
    repo = FakeNotifyRepository()  # no directory: the case's people are not known, so only webhooks
    everything, withdrawals, decisions = (
        webhook(),
        webhook("kipina.case.withdrawn.v1"),
        webhook("kipina.award.decided.v1"),
    )
    repo.webhooks = [everything, withdrawals, decisions]
    payload = CaseWithdrawnV1(case_id=CASE_ID, call_id=uuid.uuid4())
    event = event_of(payload)
    work = uow(repo)
    await workflow.notify_stakeholders(uow=work, event=event, payload=payload, rules=NO_OPERATORS)
    assert work.commits == 1  # committed although nobody is told by email
    assert [d["webhook_id"] for d in repo.deliveries] == [everything.id, withdrawals.id]
    assert all(d["channel"] == Channel.WEBHOOK and d["body"] == event.to_bytes().decode() for d in repo.deliveries)


async def test_an_award_decision_reaches_no_webhook_and_none_of_the_cases_people() -> None:
    repo = FakeNotifyRepository()
    repo.directories[CASE_ID] = domain.directory_from_snapshot(snapshot())
    # A subscription to everything, and one made before the embargo naming the decision outright.
    repo.webhooks = [webhook(), webhook("kipina.award.decided.v1")]
    payload = AwardDecidedV1(
        case_id=CASE_ID, call_id=uuid.uuid4(), outcome=AwardOutcome.AWARD_WINNER, weighted_score=4.5, feedback="f"
    )
    work = uow(repo)
    await workflow.notify_stakeholders(uow=work, event=event_of(payload), payload=payload, rules=NO_OPERATORS)
    assert work.commits == 1
    assert repo.deliveries == [] and repo.feed_items == []
    await workflow.notify_stakeholders(uow=uow(repo), event=event_of(payload), payload=payload, rules=OPERATORS)
    assert [(d["channel"], d["recipient"]) for d in repo.deliveries] == [(Channel.EMAIL, "ops@example.org")]
    assert repo.feed_items == []
    # The operators' message names the case (from its directory), though the decision event carries no title.
    assert repo.deliveries[0]["subject"] == "Award decision (embargoed): Case r1 – award winner"


async def test_published_results_reach_the_cases_people_their_feed_and_webhooks() -> None:
    repo = FakeNotifyRepository()
    repo.directories[CASE_ID] = domain.directory_from_snapshot(snapshot())
    everything = webhook()
    repo.webhooks = [everything]
    payload = ResultsPublishedV1(
        case_id=CASE_ID, call_id=uuid.uuid4(), outcome=AwardOutcome.AWARD_WINNER, feedback="Selkeä parannus."
    )
    await workflow.notify_stakeholders(uow=uow(repo), event=event_of(payload), payload=payload, rules=NO_OPERATORS)
    emails = [d for d in repo.deliveries if d["channel"] == Channel.EMAIL]
    assert [(d["recipient"], d["template"]) for d in emails] == [
        ("aino@example.org", "results_published"),
        ("bjorn@example.org", "results_published"),
    ]
    assert all("Selkeä parannus." in d["body"] for d in emails)
    assert [d["webhook_id"] for d in repo.deliveries if d["channel"] == Channel.WEBHOOK] == [everything.id]
    assert [(f["user_id"], f["template"]) for f in repo.feed_items] == [("user-1", "results_published")]


async def test_a_delivery_records_the_trace_it_was_recorded_in() -> None:
    repo = FakeNotifyRepository()
    repo.directories[CASE_ID] = domain.directory_from_snapshot(snapshot())
    payload = CaseSubmittedV1(case=snapshot())
    provider = TracerProvider()
    with provider.get_tracer("test").start_as_current_span("consumer") as span:
        await workflow.notify_stakeholders(uow=uow(repo), event=event_of(payload), payload=payload, rules=NO_OPERATORS)
        traceparent, _ = tracing.current_trace_context()
    assert traceparent is not None and format(span.get_span_context().trace_id, "032x") in traceparent
    assert [d["traceparent"] for d in repo.deliveries] == [traceparent, traceparent]


async def test_jurors_are_told_by_email_when_their_address_is_known_and_in_app_always() -> None:
    repo = FakeNotifyRepository()  # the case's directory is not needed: the event names the jurors and titles
    repo.webhooks = [webhook()]  # a subscription to everything still never gets an event addressed to a person
    jurors = [
        Person(user_id="juror-1", name="Jaana", email="jaana@example.org", language=Language.FI),
        Person(user_id="juror-2", name="Jon", language=Language.SV),
    ]
    payload = JurorsAssignedV1(
        case_id=CASE_ID, call_id=uuid.uuid4(), case_title="Case", call_title="Call", jurors=jurors, scoring_due_at=NOW
    )
    await workflow.notify_stakeholders(uow=uow(repo), event=event_of(payload), payload=payload, rules=OPERATORS)
    assert [(d["channel"], d["recipient"], d["language"]) for d in repo.deliveries] == [
        (Channel.EMAIL, "jaana@example.org", "fi")
    ]
    assert "2025-01-01 00:00 UTC" in repo.deliveries[0]["body"]
    assert [(f["user_id"], f["template"], f["language"]) for f in repo.feed_items] == [
        ("juror-1", "jurors_assigned", "fi"),
        ("juror-2", "jurors_assigned", "sv"),
    ]


def dead_letter(dead_letter_id: int, *, service: str = "review") -> DeadLetteredV1:
    return DeadLetteredV1(
        service=service,
        dead_letter_id=dead_letter_id,
        source_topic="kipina.intake.v1",
        source_partition=0,
        source_offset=dead_letter_id,
        reason="malformed",
        error="malformed: no",
        attempts=0,
    )


async def test_operators_hear_of_a_services_dead_letters_once_per_window_by_email_only() -> None:
    repo = FakeNotifyRepository()
    first, second, other = dead_letter(1), dead_letter(2), dead_letter(3, service="awards")
    for payload in (first, second, other):
        event = event_of(payload).model_copy(
            update={"time": datetime(2026, 11, 24, 12, payload.dead_letter_id, tzinfo=UTC)}
        )
        await workflow.notify_stakeholders(uow=uow(repo), event=event, payload=payload, rules=OPERATORS)
    assert [(d["recipient"], d["case_id"], d["template"]) for d in repo.deliveries] == [
        ("ops@example.org", None, "dead_lettered"),  # review's first dead letter of the window
        ("ops@example.org", None, "dead_lettered"),  # awards' first
    ]
    assert "review" in repo.deliveries[0]["subject"] and "awards" in repo.deliveries[1]["subject"]
    assert repo.feed_items == []  # about no case: no feed item
    later = event_of(second).model_copy(update={"time": datetime(2026, 11, 24, 13, 5, tzinfo=UTC)})
    await workflow.notify_stakeholders(uow=uow(repo), event=later, payload=second, rules=OPERATORS)
    assert len(repo.deliveries) == 3  # the next window tells again


async def test_a_delivery_about_no_case_is_not_announced() -> None:
    work = uow(FakeNotifyRepository())
    about_nothing = replace(delivery(), case_id=None)
    status = await workflow.record_delivery_outcome(
        uow=work, delivery=about_nothing, error=None, permanent=False, retry=RETRY
    )
    assert status == DeliveryStatus.DELIVERED and work.events == []


# --------------------------------------------------------------------------- outcomes of attempts


async def test_a_delivered_attempt_is_announced() -> None:
    repo = FakeNotifyRepository()
    work = uow(repo)
    sent = delivery(attempts=2)
    status = await workflow.record_delivery_outcome(uow=work, delivery=sent, error=None, permanent=False, retry=RETRY)
    assert status == DeliveryStatus.DELIVERED
    assert repo.marked == [("delivered", {"delivery_id": sent.id, "attempt": 2})]
    assert work.events == [
        NotificationDeliveredV1(
            delivery_id=sent.id,
            case_id=CASE_ID,
            source_event_id=sent.source_event_id,
            source_event_type=sent.source_event_type,
            channel=Channel.EMAIL,
            recipient="aino@example.org",
            template="case_submitted",
            attempts=2,
        )
    ]


async def test_a_failed_attempt_is_retried_later_without_an_event() -> None:
    repo = FakeNotifyRepository()
    work = uow(repo)
    status = await workflow.record_delivery_outcome(
        uow=work, delivery=delivery(attempts=2), error="timeout", permanent=False, retry=RETRY
    )
    assert status == DeliveryStatus.PENDING
    (_, fields) = repo.marked[0]
    assert fields["status"] == DeliveryStatus.PENDING and fields["retry_in_s"] == 4.0
    assert work.commits == 1 and work.events == []


@pytest.mark.parametrize(("attempts", "permanent"), [(3, False), (1, True)])
async def test_the_last_or_a_permanent_failure_is_announced(attempts: int, permanent: bool) -> None:
    repo = FakeNotifyRepository()
    work = uow(repo)
    failed = delivery(attempts=attempts, channel=Channel.WEBHOOK)
    status = await workflow.record_delivery_outcome(
        uow=work, delivery=failed, error="x" * 3000, permanent=permanent, retry=RETRY
    )
    assert status == DeliveryStatus.FAILED
    (event,) = work.events
    assert isinstance(event, NotificationFailedV1)
    assert event.attempts == attempts and event.channel == Channel.WEBHOOK
    assert event.error == "x" * domain.MAX_ERROR_LENGTH
    assert repo.marked[0][1]["error"] == event.error


@pytest.mark.parametrize("error", [None, "refused"])
async def test_an_attempt_whose_lease_was_reclaimed_changes_nothing(error: str | None) -> None:
    repo = FakeNotifyRepository()
    repo.lease_held = False
    work = uow(repo)
    last = delivery(attempts=RETRY.max_attempts)
    assert (
        await workflow.record_delivery_outcome(uow=work, delivery=last, error=error, permanent=False, retry=RETRY)
        is None
    )
    assert work.commits == 0 and work.emitted == []


# --------------------------------------------------------------------------- refusals


async def test_someone_elses_feed_item_and_an_unknown_webhook_are_not_found() -> None:
    item_id = uuid.uuid4()
    with pytest.raises(NotFound, match=f"^no feed item {item_id}$"):
        await workflow.mark_read(uow=uow(FakeNotifyRepository()), user_id="u", item_id=item_id)
    webhook_id = uuid.uuid4()
    with pytest.raises(NotFound, match=f"^no webhook subscription {webhook_id}$"):
        await workflow.unsubscribe_webhook(uow=uow(FakeNotifyRepository()), webhook_id=webhook_id)

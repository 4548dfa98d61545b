"""Notify's use cases: each event it listens to, each request of the API, and the delivery worker's steps.

Every use case is a keyword-only function that takes a ``UnitOfWork[NotifyRepository]`` and plain
values: it opens the unit of work, reads and writes through ``uow.repo``, asks domain.py for the
rules, emits its events with ``uow.emit`` and commits. For an event the unit of work is a savepoint
in the consumer's transaction; for a request, or a step of the delivery worker, a transaction of its
own. Refusals are ``shared.errors``; shared/http_errors.py maps them to HTTP in one place.

Nothing here sends: events only record deliveries, and the worker (worker.py) sends them outside any
transaction, then reports each outcome to ``record_delivery_outcome``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from services.notify import domain
from services.notify.domain import (
    Delivery,
    DeliveryStatus,
    DueDelivery,
    FeedItem,
    Notice,
    NotifyRules,
    RetryPolicy,
    WebhookSubscription,
)
from services.notify.rendering import render
from services.notify.repository import NotifyRepository
from services.notify.sealing import SecretBox
from services.notify.targets import TargetRefused, TargetUnresolved, WebhookTargets
from shared import tracing
from shared.errors import Invalid, NotFound, Problem
from shared.events import (
    CaseRevisedV1,
    CaseSubmittedV1,
    CloudEvent,
    DeadLetteredV1,
    EventPayload,
    NotificationDeliveredV1,
    NotificationFailedV1,
    parse_event,
)
from shared.glance import Glance, Health
from shared.logging import bind_event_context, get_logger
from shared.uow import UnitOfWork
from shared.vocabulary import Channel

log = get_logger(__name__)

Uow = UnitOfWork[NotifyRepository]


# --------------------------------------------------------------------------- steps shared by the event use cases


async def _record_deliveries(
    repo: NotifyRepository, *, event: CloudEvent, payload: EventPayload, rules: NotifyRules, webhooks: bool = True
) -> None:
    """A pending delivery for each matching webhook (unless ``webhooks`` is False: they had the event already) and
    each person who must hear of the event.

    Each records the trace context of the consumer's span, so sending it continues the case's trace.
    """
    case_id = domain.case_of(payload)
    traceparent, tracestate = tracing.current_trace_context()
    envelope = event.to_bytes().decode()  # webhooks receive the event as it travelled
    for subscription in await repo.active_webhooks() if webhooks else []:
        if not domain.wants_event(subscription.event_types, event.type):
            continue
        await repo.record_delivery(
            case_id=case_id,
            source_event_id=event.id,
            source_event_type=event.type,
            correlation_id=event.correlationid,
            channel=Channel.WEBHOOK,
            recipient=str(subscription.id),
            recipient_name="",
            language="",
            template="cloudevent",
            subject=event.type,
            body=envelope,
            webhook_id=subscription.id,
            traceparent=traceparent,
            tracestate=tracestate,
        )
    tellings = domain.what_to_tell(payload)
    if not tellings:
        return
    if isinstance(payload, DeadLetteredV1) and not await repo.claim_alert_window(
        service=payload.service,
        window_start=domain.alert_window(event.time, minutes=rules.dead_letter_alert_window_minutes),
    ):
        log.info("operators were told of this service's dead letters in this window", service=payload.service)
        return
    # The case's directory names its people and gives every message about the case its titles.
    directory = await repo.get_directory(case_id) if case_id is not None else None
    if directory is None and case_id is not None and domain.needs_directory(tellings):
        # The case's snapshot travels on intake's topic, read apart from review's and awards': this event came
        # first. Its people hear of it when the snapshot arrives (refresh_directory_and_notify); the people the
        # event names itself (reviewers, jurors, operators) are told now, and not again then (deliveries are unique).
        await repo.await_directory(case_id=case_id, event_id=event.id, event=event.to_bytes())
        log.info("the case's people are not known yet; told when its snapshot arrives", event_type=event.type)
    notices = domain.plan_notices(payload, directory, operator_emails=rules.operator_emails)
    recorded = 0
    for notice in notices:
        recorded += await _record_notice(
            repo, event=event, case_id=case_id, notice=notice, traceparent=traceparent, tracestate=tracestate
        )
    log.info("notifications recorded", recipients=len(notices), new_deliveries=recorded)


async def _record_notice(
    repo: NotifyRepository,
    *,
    event: CloudEvent,
    case_id: uuid.UUID | None,
    notice: Notice,
    traceparent: str | None,
    tracestate: str | None,
) -> int:
    """An email delivery when the person's address is known, and an in-app feed item for a case when their
    user id is; 1 if the email is new."""
    person = notice.recipient
    rendered = render(notice.template, person.language, notice.context)
    created = False
    if person.email:
        created = await repo.record_delivery(
            case_id=case_id,
            source_event_id=event.id,
            source_event_type=event.type,
            correlation_id=event.correlationid,
            channel=Channel.EMAIL,
            recipient=person.email,
            recipient_name=person.name,
            language=str(person.language),
            template=str(notice.template),
            subject=rendered.subject,
            body=rendered.body,
            traceparent=traceparent,
            tracestate=tracestate,
        )
    if person.user_id and case_id is not None:
        await repo.record_feed_item(
            user_id=person.user_id,
            case_id=case_id,
            source_event_id=event.id,
            template=str(notice.template),
            language=str(person.language),
            title=rendered.subject,
            body=rendered.body,
        )
    return int(created)


# --------------------------------------------------------------------------- events


async def refresh_directory_and_notify(
    *, uow: Uow, event: CloudEvent, payload: CaseSubmittedV1 | CaseRevisedV1, rules: NotifyRules
) -> None:
    """Store who is attached to the case (unless a newer revision is stored), then tell whom the event concerns."""
    async with uow:
        directory = domain.directory_from_snapshot(payload.case)
        stored = await uow.repo.stored_revision(directory.case_id)
        if domain.should_replace_directory(stored_revision=stored, incoming_revision=directory.revision):
            await uow.repo.save_directory(directory)
        else:
            log.info("older case snapshot ignored", stored_revision=stored, incoming_revision=directory.revision)
        await _record_deliveries(uow.repo, event=event, payload=payload, rules=rules)
        # Events about the case read before its snapshot: now its people can be told of them, in their order.
        for raw in await uow.repo.take_awaiting_directory(directory.case_id):
            waiting = parse_event(raw)
            await _record_deliveries(uow.repo, event=waiting, payload=waiting.payload(), rules=rules, webhooks=False)
        await uow.commit()


async def notify_stakeholders(*, uow: Uow, event: CloudEvent, payload: EventPayload, rules: NotifyRules) -> None:
    """Record a delivery for each webhook that wants the event and each stakeholder it concerns."""
    async with uow:
        await _record_deliveries(uow.repo, event=event, payload=payload, rules=rules)
        await uow.commit()


# --------------------------------------------------------------------------- the delivery worker


async def claim_due_deliveries(*, uow: Uow, limit: int, lease_s: float) -> list[DueDelivery]:
    """Take up to ``limit`` due deliveries under a lease of ``lease_s``; the attempt counts from now."""
    async with uow:
        claimed = await uow.repo.claim_due_deliveries(limit=limit, lease_s=lease_s)
        await uow.commit()
    return claimed


async def record_delivery_outcome(
    *, uow: Uow, delivery: Delivery, error: str | None, permanent: bool, retry: RetryPolicy
) -> DeliveryStatus | None:
    """Record how the claimed attempt went, and announce a final outcome (NotificationDeliveredV1/FailedV1).

    ``error`` is None for a success; ``permanent`` errors are not retried. Returns the delivery's new
    status, or None when its lease was reclaimed meanwhile (the reclaiming worker records the outcome).
    """
    attempts = delivery.attempts
    async with uow:
        if error is None:
            if not await uow.repo.mark_delivered(delivery_id=delivery.id, attempt=attempts):
                return None
            if delivery.case_id is not None:  # outcome events are about a case (docs/people.md)
                await uow.emit(NotificationDeliveredV1(**_outcome_facts(delivery)))
            await uow.commit()
            log.info("delivered", channel=delivery.channel.value, attempts=attempts)
            return DeliveryStatus.DELIVERED
        kept = error[: domain.MAX_ERROR_LENGTH]
        status = domain.after_failure(attempts=attempts, max_attempts=retry.max_attempts, permanent=permanent)
        delay = domain.retry_delay_s(attempts=attempts, base_s=retry.backoff_base_s, max_s=retry.backoff_max_s)
        if not await uow.repo.mark_attempt_failed(
            delivery_id=delivery.id, attempt=attempts, status=status, retry_in_s=delay, error=kept
        ):
            return None
        if status == DeliveryStatus.FAILED and delivery.case_id is not None:
            await uow.emit(NotificationFailedV1(**_outcome_facts(delivery), error=kept))
        await uow.commit()
    if status == DeliveryStatus.FAILED:
        log.error("delivery failed for good", channel=delivery.channel.value, attempts=attempts, error=error)
    else:
        log.warning("delivery attempt failed; will retry", attempts=attempts, retry_in_s=delay, error=error)
    return status


# --------------------------------------------------------------------------- in-app feed


async def feed(*, uow: Uow, user_id: str, unread_only: bool, limit: int, offset: int) -> tuple[list[FeedItem], int]:
    """The user's in-app notifications, newest first."""
    async with uow:
        return await uow.repo.list_feed(user_id=user_id, unread_only=unread_only, limit=limit, offset=offset)


async def mark_read(*, uow: Uow, user_id: str, item_id: uuid.UUID) -> FeedItem:
    """Mark one of the user's feed items read (reading twice keeps the first time)."""
    async with uow:
        item = await uow.repo.mark_feed_item_read(user_id=user_id, item_id=item_id)
        if item is None:  # unknown, or someone else's: the same answer
            raise NotFound(f"no feed item {item_id}")
        await uow.commit()
    return item


# --------------------------------------------------------------------------- delivery logs


async def deliveries(
    *,
    uow: Uow,
    case_id: uuid.UUID | None,
    status: DeliveryStatus | None,
    channel: Channel | None,
    limit: int,
    offset: int,
) -> tuple[list[Delivery], int]:
    """Deliveries, newest first, optionally of one case, status or channel."""
    async with uow:
        return await uow.repo.list_deliveries(
            case_id=case_id, status=status, channel=channel, limit=limit, offset=offset
        )


# --------------------------------------------------------------------------- webhook subscriptions


async def subscribe_webhook(
    *,
    uow: Uow,
    url: str,
    secret: str,
    event_types: Sequence[str],
    operator_id: str,
    targets: WebhookTargets,
    secrets: SecretBox,
) -> WebhookSubscription:
    """Subscribe an endpoint to the given event types (all when empty); bodies are signed with ``secret``, which
    is stored sealed (services/notify/sealing.py).

    The endpoint must be public: refused when its host is, or resolves to, an address no webhook may reach. A name
    that does not resolve yet is taken; every delivery resolves and checks it again (services/notify/targets.py).
    """
    try:
        await targets.addresses(url)
    except TargetRefused as exc:
        reason = f"webhooks go to public addresses only: {exc}"
        raise Invalid(reason, error="webhook_target_refused", problems=[Problem("url", reason)]) from exc
    except TargetUnresolved:
        pass
    with bind_event_context(case_id=None, correlation_id=uow.origin.correlation_id):
        async with uow:
            subscription = await uow.repo.create_webhook(
                url=url, sealed_secret=secrets.seal(secret), event_types=event_types, created_by=operator_id
            )
            await uow.commit()
        # The host only: a URL's path, query or user part may carry an agency's own tokens.
        log.info("webhook subscribed", webhook_id=str(subscription.id), host=urlsplit(subscription.url).hostname)
    return subscription


async def reseal_webhook_secrets(*, uow: Uow, secrets: SecretBox) -> int:
    """Seal every stored webhook secret again under the first configured key (key rotation: sealing.py)."""
    async with uow:
        stored = await uow.repo.sealed_secrets()
        for webhook_id, sealed in stored:
            await uow.repo.replace_sealed_secret(webhook_id, secrets.reseal(sealed))
        await uow.commit()
    log.info("webhook secrets sealed under the first key", subscriptions=len(stored))
    return len(stored)


async def webhooks(*, uow: Uow, limit: int, offset: int) -> tuple[list[WebhookSubscription], int]:
    """Live subscriptions, newest first."""
    async with uow:
        return await uow.repo.list_webhooks(limit=limit, offset=offset)


async def unsubscribe_webhook(*, uow: Uow, webhook_id: uuid.UUID) -> None:
    """End a subscription; deliveries still pending for it then fail for good."""
    with bind_event_context(case_id=None, correlation_id=uow.origin.correlation_id):
        async with uow:
            if not await uow.repo.delete_webhook(webhook_id):
                raise NotFound(f"no webhook subscription {webhook_id}")
            await uow.commit()
        log.info("webhook unsubscribed", webhook_id=str(webhook_id))


def _outcome_facts(delivery: Delivery) -> dict[str, Any]:
    """What both outcome events say about a delivery (``attempts`` counts the one just made)."""
    return {
        "delivery_id": delivery.id,
        "case_id": delivery.case_id,
        "source_event_id": delivery.source_event_id,
        "source_event_type": delivery.source_event_type,
        "channel": delivery.channel,
        "recipient": delivery.recipient,
        "template": delivery.template,
        "attempts": delivery.attempts,
    }


# The dashboard lists this many of the latest failed deliveries.
GLANCE_FAILURES = 10
# The webhook check reads deliveries created this long ago at most (a delivery retried longer is not seen).
WEBHOOK_LOOKBACK_S = 24 * 3600.0


async def at_a_glance(*, uow: UnitOfWork[NotifyRepository]) -> list[Glance]:
    """The operator dashboard's domain section: deliveries by channel and status, the latest failures and why."""
    async with uow:
        counts = await uow.repo.delivery_counts()
        failures = await uow.repo.latest_failures(limit=GLANCE_FAILURES)
    return [
        Glance(
            caption="glance_deliveries",
            columns=("glance_channel", "status", "glance_deliveries_n"),
            rows=[(c.channel, c.status.value, c.deliveries) for c in counts],
            test_id="deliveries",
        ),
        Glance(
            caption="glance_failures",
            columns=("glance_failed_at", "glance_channel", "glance_recipient", "glance_template", "glance_reason"),
            rows=[(f.failed_at, f.channel, f.recipient, f.template, f.reason) for f in failures],
            test_id="failures",
        ),
    ]


async def webhook_health(*, uow: UnitOfWork[NotifyRepository], window_minutes: float) -> Health:
    """The operator dashboard's webhook check, from notify's own deliveries: ok while none attempted in the last
    ``window_minutes`` failed its latest attempt. Shown, never part of readiness: the worker retries deliveries."""
    async with uow:
        activity = await uow.repo.webhook_activity(window_s=window_minutes * 60, lookback_s=WEBHOOK_LOOKBACK_S)
    last = activity.last_success
    return Health(
        ok=activity.healthy,
        detail="webhooks_detail",
        values={
            "minutes": f"{window_minutes:g}",
            "deliveries": activity.deliveries,
            "failed": activity.failed,
            "failing": activity.failing_subscriptions,
            "last": last.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if last is not None else "–",
        },
    )

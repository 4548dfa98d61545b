"""Notify's HTTP routes: the in-app feed, delivery logs and webhook subscriptions.

Each route parses, hands plain values to one use case in workflow.py with a unit of work, and converts the
result; refusals (``shared.errors``) become HTTP errors in shared/http_errors.py.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.notify import workflow
from services.notify.domain import Delivery, DeliveryStatus, FeedItem, WebhookSubscription
from services.notify.repository import NotifyRepository
from services.notify.schemas import DeliveryView, FeedItemView, WebhookBody, WebhookView
from services.notify.sealing import SecretBox
from services.notify.targets import WebhookTargets
from shared.auth import CurrentUser, Operator
from shared.http import unit_of_work
from shared.pagination import Limit, Offset, Page
from shared.uow import UnitOfWork
from shared.vocabulary import Channel

router = APIRouter(tags=["notify"])

Uow = Annotated[UnitOfWork[NotifyRepository], Depends(unit_of_work(NotifyRepository))]


def _webhook_targets(request: Request) -> WebhookTargets:
    targets: WebhookTargets = request.app.state.webhook_targets
    return targets


def _secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


Targets = Annotated[WebhookTargets, Depends(_webhook_targets)]
Secrets = Annotated[SecretBox, Depends(_secret_box)]


# --------------------------------------------------------------------------- views


def _feed_item_view(item: FeedItem) -> FeedItemView:
    return FeedItemView(
        id=item.id,
        case_id=item.case_id,
        template=item.template,
        language=item.language,
        title=item.title,
        body=item.body,
        created_at=item.created_at,
        read_at=item.read_at,
    )


def _delivery_view(delivery: Delivery) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        case_id=delivery.case_id,
        source_event_id=delivery.source_event_id,
        source_event_type=delivery.source_event_type,
        channel=delivery.channel,
        recipient=delivery.recipient,
        language=delivery.language,
        template=delivery.template,
        subject=delivery.subject,
        body=delivery.body,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


def _webhook_view(subscription: WebhookSubscription) -> WebhookView:
    return WebhookView(
        id=subscription.id,
        url=subscription.url,
        event_types=list(subscription.event_types),
        created_by=subscription.created_by,
        created_at=subscription.created_at,
    )


# --------------------------------------------------------------------------- in-app feed


@router.get("/feed", response_model=Page[FeedItemView])
async def my_feed(
    user: CurrentUser, uow: Uow, limit: Limit = 50, offset: Offset = 0, unread_only: bool = False
) -> Page[FeedItemView]:
    """The caller's in-app notifications, newest first."""
    items, total = await workflow.feed(
        uow=uow, user_id=user.user_id, unread_only=unread_only, limit=limit, offset=offset
    )
    return Page[FeedItemView](items=[_feed_item_view(i) for i in items], limit=limit, offset=offset, total=total)


@router.post("/feed/{item_id}/read", response_model=FeedItemView)
async def mark_read(item_id: uuid.UUID, user: CurrentUser, uow: Uow) -> FeedItemView:
    return _feed_item_view(await workflow.mark_read(uow=uow, user_id=user.user_id, item_id=item_id))


# --------------------------------------------------------------------------- delivery logs (operators)


async def _deliveries(
    uow: UnitOfWork[NotifyRepository],
    *,
    case_id: uuid.UUID | None,
    status_filter: DeliveryStatus | None,
    channel: Channel | None,
    limit: int,
    offset: int,
) -> Page[DeliveryView]:
    found, total = await workflow.deliveries(
        uow=uow, case_id=case_id, status=status_filter, channel=channel, limit=limit, offset=offset
    )
    return Page[DeliveryView](items=[_delivery_view(d) for d in found], limit=limit, offset=offset, total=total)


@router.get("/deliveries", response_model=Page[DeliveryView])
async def list_deliveries(
    _: Operator,
    uow: Uow,
    case_id: uuid.UUID | None = None,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    channel: Channel | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DeliveryView]:
    return await _deliveries(uow, case_id=case_id, status_filter=status_, channel=channel, limit=limit, offset=offset)


@router.get("/cases/{case_id}/deliveries", response_model=Page[DeliveryView])
async def case_deliveries(
    case_id: uuid.UUID, _: Operator, uow: Uow, limit: Limit = 50, offset: Offset = 0
) -> Page[DeliveryView]:
    return await _deliveries(uow, case_id=case_id, status_filter=None, channel=None, limit=limit, offset=offset)


# --------------------------------------------------------------------------- webhook subscriptions (operators)


@router.post("/webhooks", response_model=WebhookView, status_code=status.HTTP_201_CREATED)
async def create_webhook(
    body: WebhookBody, operator: Operator, uow: Uow, targets: Targets, secrets: Secrets
) -> WebhookView:
    """Subscribe an endpoint; every matching consumed event is POSTed to it, signed with the secret.

    The endpoint must be a public address: a URL whose host is, or resolves to, a loopback, private, link-local,
    metadata, unspecified, multicast or reserved address is refused (422 `webhook_target_refused`)."""
    subscription = await workflow.subscribe_webhook(
        uow=uow,
        url=str(body.url),
        secret=body.secret,
        event_types=body.event_types,
        operator_id=operator.user_id,
        targets=targets,
        secrets=secrets,
    )
    return _webhook_view(subscription)


@router.get("/webhooks", response_model=Page[WebhookView])
async def list_webhooks(_: Operator, uow: Uow, limit: Limit = 50, offset: Offset = 0) -> Page[WebhookView]:
    subscriptions, total = await workflow.webhooks(uow=uow, limit=limit, offset=offset)
    return Page[WebhookView](items=[_webhook_view(w) for w in subscriptions], limit=limit, offset=offset, total=total)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: uuid.UUID, _: Operator, uow: Uow) -> Response:
    await workflow.unsubscribe_webhook(uow=uow, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

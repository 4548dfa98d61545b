"""Notify's HTTP routes: the in-app feed, delivery logs and webhook subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from services.notify import repository
from services.notify.domain import DeliveryStatus
from services.notify.schemas import Delivery, FeedItem, Webhook, WebhookIn
from shared.auth import CurrentUser, Operator
from shared.logging import bind_event_context, get_logger
from shared.pagination import Limit, Offset, Page
from shared.service import CorrelationId, Db
from shared.vocabulary import Channel

log = get_logger(__name__)

router = APIRouter(tags=["notify"])


# --------------------------------------------------------------------------- in-app feed


@router.get("/feed", response_model=Page[FeedItem])
async def my_feed(
    user: CurrentUser, pool: Db, limit: Limit = 50, offset: Offset = 0, unread_only: bool = False
) -> Page[FeedItem]:
    """The caller's in-app notifications, newest first."""
    async with pool.acquire() as conn:
        rows, total = await repository.list_feed(
            conn, user_id=user.user_id, unread_only=unread_only, limit=limit, offset=offset
        )
    return Page[FeedItem](items=[FeedItem(**dict(r)) for r in rows], limit=limit, offset=offset, total=total)


@router.post("/feed/{item_id}/read", response_model=FeedItem)
async def mark_read(item_id: uuid.UUID, user: CurrentUser, pool: Db) -> FeedItem:
    async with pool.acquire() as conn:
        row = await repository.mark_feed_item_read(conn, user_id=user.user_id, item_id=item_id)
    if row is None:  # unknown, or someone else's: the same answer
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no feed item {item_id}")
    return FeedItem(**dict(row))


# --------------------------------------------------------------------------- delivery logs (operators)


async def _deliveries(
    pool: Db,
    *,
    case_id: uuid.UUID | None,
    status_filter: DeliveryStatus | None,
    channel: Channel | None,
    limit: int,
    offset: int,
) -> Page[Delivery]:
    async with pool.acquire() as conn:
        rows, total = await repository.list_deliveries(
            conn,
            case_id=case_id,
            status=str(status_filter) if status_filter else None,
            channel=str(channel) if channel else None,
            limit=limit,
            offset=offset,
        )
    return Page[Delivery](items=[Delivery(**dict(r)) for r in rows], limit=limit, offset=offset, total=total)


@router.get("/deliveries", response_model=Page[Delivery])
async def list_deliveries(
    _: Operator,
    pool: Db,
    case_id: uuid.UUID | None = None,
    status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    channel: Channel | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Delivery]:
    return await _deliveries(pool, case_id=case_id, status_filter=status, channel=channel, limit=limit, offset=offset)


@router.get("/cases/{case_id}/deliveries", response_model=Page[Delivery])
async def case_deliveries(
    case_id: uuid.UUID, _: Operator, pool: Db, limit: Limit = 50, offset: Offset = 0
) -> Page[Delivery]:
    return await _deliveries(pool, case_id=case_id, status_filter=None, channel=None, limit=limit, offset=offset)


# --------------------------------------------------------------------------- webhook subscriptions (operators)


@router.post("/webhooks", response_model=Webhook, status_code=status.HTTP_201_CREATED)
async def create_webhook(body: WebhookIn, operator: Operator, pool: Db, correlation_id: CorrelationId) -> Webhook:
    """Subscribe an endpoint; every matching consumed event is POSTed to it, signed with the secret."""
    with bind_event_context(case_id=None, correlation_id=correlation_id):
        async with pool.acquire() as conn:
            row = await repository.create_webhook(
                conn, url=str(body.url), secret=body.secret, event_types=body.event_types, created_by=operator.user_id
            )
        log.info("webhook subscribed", webhook_id=str(row["id"]), url=row["url"])
    return Webhook(**dict(row))


@router.get("/webhooks", response_model=Page[Webhook])
async def list_webhooks(_: Operator, pool: Db, limit: Limit = 50, offset: Offset = 0) -> Page[Webhook]:
    async with pool.acquire() as conn:
        rows, total = await repository.list_webhooks(conn, limit=limit, offset=offset)
    return Page[Webhook](items=[Webhook(**dict(r)) for r in rows], limit=limit, offset=offset, total=total)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: uuid.UUID, _: Operator, pool: Db, correlation_id: CorrelationId) -> Response:
    with bind_event_context(case_id=None, correlation_id=correlation_id):
        async with pool.acquire() as conn:
            deleted = await repository.delete_webhook(conn, webhook_id=webhook_id)
        if not deleted:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no webhook subscription {webhook_id}")
        log.info("webhook unsubscribed", webhook_id=str(webhook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)

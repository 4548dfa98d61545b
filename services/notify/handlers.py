"""Kafka handlers: keep the stakeholder directory fresh and record what must be delivered.

Handlers never send anything (no network I/O inside the message's transaction): they
record one pending delivery per (event, channel, recipient) and the delivery worker sends.
"""

from __future__ import annotations

import uuid

from services.notify import domain, repository
from services.notify.rendering import render
from services.notify.settings import NotifySettings
from shared.consumer import EventContext, EventRouter
from shared.events import CaseRevisedV1, CaseSubmittedV1, EventPayload
from shared.logging import get_logger
from shared.vocabulary import Channel

log = get_logger(__name__)


def build_router(settings: NotifySettings) -> EventRouter:
    router = EventRouter()
    operator_emails = settings.operator_email_list()

    async def notify_stakeholders(ctx: EventContext, payload: EventPayload) -> None:
        case_id = domain.case_id_of(payload)
        await record_webhook_deliveries(ctx, case_id=case_id)
        if domain.what_to_tell(payload) is None:
            return
        directory = await repository.get_directory(ctx.conn, case_id=case_id)
        if directory is None:
            log.info("no stakeholders stored for this case; nobody to tell", event_type=ctx.event.type)
            return
        notices = domain.plan_notices(payload, directory, operator_emails=operator_emails)
        recorded = 0
        for notice in notices:
            recorded += await record_notice(ctx, case_id=case_id, notice=notice)
        log.info("notifications recorded", recipients=len(notices), new_deliveries=recorded)

    async def refresh_directory(ctx: EventContext, payload: CaseSubmittedV1 | CaseRevisedV1) -> None:
        directory = domain.directory_from_snapshot(payload.case)
        stored = await repository.stored_revision(ctx.conn, case_id=directory.case_id)
        if domain.should_replace_directory(stored_revision=stored, incoming_revision=directory.revision):
            await repository.save_directory(ctx.conn, directory=directory)
        else:
            log.info("older case snapshot ignored", stored_revision=stored, incoming_revision=directory.revision)
        await notify_stakeholders(ctx, payload)

    router.on(CaseSubmittedV1, CaseRevisedV1)(refresh_directory)
    router.on(*(p for p in domain.CONSUMED_EVENTS if p not in (CaseSubmittedV1, CaseRevisedV1)))(notify_stakeholders)
    return router


async def record_notice(ctx: EventContext, *, case_id: uuid.UUID, notice: domain.Notice) -> int:
    """An email delivery, plus an in-app feed item when the recipient's user id is known."""
    person = notice.recipient
    rendered = render(notice.template, person.language, notice.context)
    created = await repository.record_delivery(
        ctx.conn,
        case_id=case_id,
        source_event_id=ctx.event.id,
        source_event_type=ctx.event.type,
        correlation_id=ctx.event.correlationid,
        channel=str(Channel.EMAIL),
        recipient=person.email,
        recipient_name=person.name,
        language=str(person.language),
        template=str(notice.template),
        subject=rendered.subject,
        body=rendered.body,
    )
    if person.user_id:
        await repository.record_feed_item(
            ctx.conn,
            user_id=person.user_id,
            case_id=case_id,
            source_event_id=ctx.event.id,
            template=str(notice.template),
            language=str(person.language),
            title=rendered.subject,
            body=rendered.body,
        )
    return int(created)


async def record_webhook_deliveries(ctx: EventContext, *, case_id: uuid.UUID) -> None:
    body = ctx.event.to_bytes().decode()
    for subscription in await repository.active_webhooks(ctx.conn):
        if not domain.wants_event(list(subscription["event_types"]), ctx.event.type):
            continue
        await repository.record_delivery(
            ctx.conn,
            case_id=case_id,
            source_event_id=ctx.event.id,
            source_event_type=ctx.event.type,
            correlation_id=ctx.event.correlationid,
            channel=str(Channel.WEBHOOK),
            recipient=str(subscription["id"]),
            recipient_name="",
            language="",
            template="cloudevent",
            subject=ctx.event.type,
            body=body,
            webhook_id=subscription["id"],
        )

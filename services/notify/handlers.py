"""Notify's Kafka handlers: every event of intake, review, awards and operations (``domain.CONSUMED_EVENTS``) is told
to whom it concerns; a case's snapshot first refreshes its stakeholder directory (use cases in workflow.py).

Handlers never send anything (no network I/O inside the message's transaction): the use cases
record one pending delivery per (event, channel, recipient) and the delivery worker sends.
"""

from __future__ import annotations

from services.notify import domain, workflow
from services.notify.repository import NotifyRepository
from services.notify.settings import NotifySettings
from shared.consumer import EventContext, EventRouter
from shared.events import CaseRevisedV1, CaseSubmittedV1, EventPayload

SNAPSHOTS = (CaseSubmittedV1, CaseRevisedV1)


def build_router(settings: NotifySettings) -> EventRouter:
    """A handler for each consumed event; the topics notify subscribes to follow from them."""
    router = EventRouter()
    rules = settings.rules()

    @router.on(*SNAPSHOTS)
    async def refresh_directory_and_notify(ctx: EventContext, payload: CaseSubmittedV1 | CaseRevisedV1) -> None:
        await workflow.refresh_directory_and_notify(
            uow=ctx.unit_of_work(NotifyRepository), event=ctx.event, payload=payload, rules=rules
        )

    @router.on(*(p for p in domain.CONSUMED_EVENTS if p not in SNAPSHOTS))
    async def notify_stakeholders(ctx: EventContext, payload: EventPayload) -> None:
        await workflow.notify_stakeholders(
            uow=ctx.unit_of_work(NotifyRepository), event=ctx.event, payload=payload, rules=rules
        )

    return router

"""The notify service process: HTTP API, the consumer of intake, review and awards events, and the delivery worker."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notify import workflow
from services.notify.api import router as api_router
from services.notify.handlers import build_router
from services.notify.repository import NotifyRepository
from services.notify.settings import NotifySettings
from services.notify.worker import delivery_worker, smtp_health
from shared import registry
from shared.consumer import new_correlation_id
from shared.events import NotificationDeliveredV1, NotificationFailedV1
from shared.glance import Glance, Health
from shared.runtime import Runtime
from shared.service import ServiceDefinition, create_app


async def _at_a_glance(runtime: Runtime) -> list[Glance]:
    return await workflow.at_a_glance(uow=runtime.unit_of_work(NotifyRepository, correlation_id=new_correlation_id()))


def create() -> FastAPI:
    settings = NotifySettings()

    async def smtp(_: Runtime) -> Health:
        return await smtp_health(settings)

    async def webhooks(runtime: Runtime) -> Health:
        return await workflow.webhook_health(
            uow=runtime.unit_of_work(NotifyRepository, correlation_id=new_correlation_id()),
            window_minutes=settings.webhook_health_window_minutes,
        )

    return create_app(
        ServiceDefinition(
            part=registry.NOTIFY,
            description=(
                "Stakeholder notification: every event that matters to a person reaches them in their language "
                "(fi, sv, en) by email, signed webhook and in-app feed; deliveries are de-duplicated, retried "
                "with backoff and logged."
            ),
            settings=settings,
            migrations=Path(__file__).parent / "migrations",
            api_routers=[api_router],
            event_router=build_router(settings),
            publishes=[NotificationDeliveredV1, NotificationFailedV1],
            background_jobs=[delivery_worker],
            dashboard=_at_a_glance,
            # On the dashboard only: notify retries deliveries, so neither takes it out of service (/health/ready).
            dependency_checks={"smtp": smtp, "webhooks": webhooks},
        )
    )

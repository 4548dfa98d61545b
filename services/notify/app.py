"""The notify service process: HTTP API, the consumer of intake, review and awards events, and the delivery worker."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.notify import workflow
from services.notify.api import router as api_router
from services.notify.handlers import build_router
from services.notify.repository import NotifyRepository
from services.notify.sealing import SecretUnreadable
from services.notify.settings import NotifySettings
from services.notify.targets import Resolver, WebhookTargets, resolve_with_system
from services.notify.worker import delivery_worker, smtp_health
from shared import registry
from shared.consumer import new_correlation_id
from shared.db import DATABASE_ERRORS
from shared.events import NotificationDeliveredV1, NotificationFailedV1
from shared.glance import Glance, Health
from shared.logging import get_logger
from shared.runtime import Runtime
from shared.service import ServiceDefinition, create_app


async def _at_a_glance(runtime: Runtime) -> list[Glance]:
    return await workflow.at_a_glance(uow=runtime.unit_of_work(NotifyRepository, correlation_id=new_correlation_id()))


log = get_logger(__name__)


_RESEAL_ERRORS: tuple[type[BaseException], ...] = (*DATABASE_ERRORS, SecretUnreadable)


async def _reseal_webhook_secrets(runtime: Runtime) -> None:
    """Once at start-up: secrets sealed under a key that is no longer first move to the first (key rotation)."""
    settings = cast(NotifySettings, runtime.settings)
    try:
        await workflow.reseal_webhook_secrets(
            uow=runtime.unit_of_work(NotifyRepository, correlation_id=new_correlation_id()),
            secrets=settings.secret_box(),
        )
    except _RESEAL_ERRORS as exc:  # the next start-up tries again; deliveries go on
        log.error("could not seal webhook secrets under the first key", error=repr(exc))


def create(*, resolve: Resolver = resolve_with_system) -> FastAPI:
    """The notify app; ``resolve`` finds a webhook host's addresses (the tests give one they control)."""
    settings = NotifySettings()
    if settings.webhook_secret_keys_are_default():
        log.warning("KIPINA_NOTIFY_WEBHOOK_SECRET_KEYS is the development default; set real keys outside development")
    targets = WebhookTargets(resolve=resolve, allow_loopback=settings.webhook_allow_loopback)

    async def smtp(_: Runtime) -> Health:
        return await smtp_health(settings)

    async def webhooks(runtime: Runtime) -> Health:
        return await workflow.webhook_health(
            uow=runtime.unit_of_work(NotifyRepository, correlation_id=new_correlation_id()),
            window_minutes=settings.webhook_health_window_minutes,
        )

    app = create_app(
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
            background_jobs=[delivery_worker(targets), _reseal_webhook_secrets],
            dashboard=_at_a_glance,
            # On the dashboard only: notify retries deliveries, so neither takes it out of service (/health/ready).
            dependency_checks={"smtp": smtp, "webhooks": webhooks},
        )
    )
    app.state.webhook_targets = targets
    app.state.secret_box = settings.secret_box()
    return app

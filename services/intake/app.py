"""The intake service process: HTTP API + the consumer of review and awards events + the start-up job that
announces calls created before calls were announced."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake import jobs, workflow
from services.intake.api import router as api_router
from services.intake.handlers import router as event_router
from services.intake.pages import submitter_pages_router
from services.intake.pages_operator import operator_pages_router
from services.intake.repository import IntakeRepository
from services.intake.settings import IntakeSettings
from services.intake.throttling import SubmissionLimits, trusted_networks
from shared import registry
from shared.consumer import new_correlation_id
from shared.events import CallAnnouncedV1, CaseRevisedV1, CaseSubmittedV1, CaseWithdrawnV1
from shared.glance import Glance
from shared.runtime import Runtime
from shared.service import ServiceDefinition, create_app


async def _at_a_glance(runtime: Runtime) -> list[Glance]:
    return await workflow.at_a_glance(uow=runtime.unit_of_work(IntakeRepository, correlation_id=new_correlation_id()))


def create() -> FastAPI:
    settings = IntakeSettings()
    app = create_app(
        ServiceDefinition(
            part=registry.INTAKE,
            description="Calls for innovation cases; case submission, revision and withdrawal; "
            "each case's status and timeline as review and awards progress.",
            settings=settings,
            migrations=Path(__file__).parent / "migrations",
            api_routers=[api_router],
            event_router=event_router,
            publishes=[CallAnnouncedV1, CaseSubmittedV1, CaseRevisedV1, CaseWithdrawnV1],
            background_jobs=[jobs.announce_unannounced_calls],
            page_routers=[submitter_pages_router(), operator_pages_router()],
            dashboard=_at_a_glance,
        )
    )
    app.state.submission_limits = SubmissionLimits(
        per_submitter=settings.submissions_per_submitter_per_minute,
        per_address=settings.submissions_per_address_per_minute,
        trusted_proxies=trusted_networks(settings.trusted_proxies),
    )
    return app

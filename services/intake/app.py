"""The intake service's process: HTTP API, review/awards consumer, outbox relay."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake.api import router as api_router
from services.intake.handlers import router as event_router
from services.intake.settings import IntakeSettings
from shared import topics
from shared.events import CaseRevisedV1, CaseSubmittedV1, CaseWithdrawnV1
from shared.service import ServiceDefinition, create_app


def create() -> FastAPI:
    return create_app(
        ServiceDefinition(
            name="intake",
            title="Intake",
            description="Calls for innovation cases; case submission, revision and withdrawal; "
            "each case's status and timeline as review and awards progress.",
            settings=IntakeSettings(),
            migrations=Path(__file__).parent / "migrations",
            api_routers=[api_router],
            event_router=event_router,
            consumes=[topics.REVIEW, topics.AWARDS],
            publishes=[CaseSubmittedV1, CaseRevisedV1, CaseWithdrawnV1],
        )
    )

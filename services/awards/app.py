"""The awards service process: HTTP API + the consumer of review and intake events (calls, withdrawals)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.awards.api import router as api_router
from services.awards.handlers import router as event_router
from services.awards.settings import AwardsSettings
from shared import registry
from shared.events import AwardDecidedV1, EvaluationOpenedV1, ResultsPublishedV1
from shared.service import ServiceDefinition, create_app


def create() -> FastAPI:
    return create_app(
        ServiceDefinition(
            part=registry.AWARDS,
            description=(
                "Award evaluation of nominated cases: per-call criteria and jury, conflict-free juror assignment, "
                "scoring, per-juror normalised leaderboards, decisions with assessor feedback, and results."
            ),
            settings=AwardsSettings(),
            migrations=Path(__file__).parent / "migrations",
            api_routers=[api_router],
            event_router=event_router,
            publishes=[EvaluationOpenedV1, AwardDecidedV1, ResultsPublishedV1],
        )
    )

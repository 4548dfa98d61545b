"""The awards service process: HTTP API + the consumer of review and intake events (calls, withdrawals)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.awards import jobs, workflow
from services.awards.api import router as api_router
from services.awards.handlers import build_event_router
from services.awards.pages import page_routers
from services.awards.repository import AwardsRepository
from services.awards.settings import AwardsSettings
from shared import registry
from shared.consumer import new_correlation_id
from shared.events import (
    AwardDecidedV1,
    EvaluationCompleteV1,
    EvaluationOpenedV1,
    JurorsAssignedV1,
    ResultsPublishedV1,
    ScoringDueV1,
)
from shared.glance import Glance
from shared.runtime import Runtime
from shared.service import ServiceDefinition, create_app


async def _at_a_glance(runtime: Runtime) -> list[Glance]:
    return await workflow.at_a_glance(uow=runtime.unit_of_work(AwardsRepository, correlation_id=new_correlation_id()))


def create() -> FastAPI:
    settings = AwardsSettings()
    return create_app(
        ServiceDefinition(
            part=registry.AWARDS,
            description=(
                "Award evaluation of nominated cases: per-call criteria and jury, conflict-free juror assignment, "
                "scoring, per-juror normalised leaderboards, decisions with assessor feedback, and results."
            ),
            settings=settings,
            migrations=Path(__file__).parent / "migrations",
            api_routers=[api_router],
            page_routers=page_routers(),
            dashboard=_at_a_glance,
            event_router=build_event_router(settings),
            publishes=[
                EvaluationOpenedV1,
                JurorsAssignedV1,
                ScoringDueV1,
                EvaluationCompleteV1,
                AwardDecidedV1,
                ResultsPublishedV1,
            ],
            background_jobs=[jobs.remind_jurors],
        )
    )

"""Review's application factory (``uvicorn --factory services.review.app:create``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.review import api, handlers, jobs, workflow
from services.review.pages import reviewer_pages_router
from services.review.repository import ReviewRepository
from services.review.settings import ReviewSettings
from shared import registry
from shared.consumer import new_correlation_id
from shared.events import (
    CaseNominatedV1,
    CaseRejectedV1,
    ChangesAnsweredV1,
    ChangesRequestedV1,
    IterationEscalatedV1,
    IterationOpenedV1,
    StageAdvancedV1,
    TaskDueSoonV1,
)
from shared.glance import Glance
from shared.runtime import Runtime
from shared.service import ServiceDefinition, create_app

DESCRIPTION = """\
Agile iteration review. Each submitted case is reviewed in timeboxed iterations; each iteration is one
review task per required reviewer (two for four-eyes calls) in a queue. Reviewers claim the task due first
(with a lease), give feedback against the ISO 56002 stage's checklist and decide: request changes, advance
the stage, reject or nominate for award evaluation. Reviewers never get cases of their own organisation;
overdue iterations escalate. The reviewer holding a task is reminded before its lease or its iteration's SLA
ends, and reviewers who requested changes hear when a revision answers them.
"""


async def _at_a_glance(runtime: Runtime) -> list[Glance]:
    return await workflow.at_a_glance(uow=runtime.unit_of_work(ReviewRepository, correlation_id=new_correlation_id()))


def create() -> FastAPI:
    settings = ReviewSettings()
    return create_app(
        ServiceDefinition(
            part=registry.REVIEW,
            description=DESCRIPTION,
            settings=settings,
            migrations=Path(__file__).parent / "migrations",
            api_routers=[api.router],
            event_router=handlers.build_event_router(settings),
            publishes=[
                IterationOpenedV1,
                ChangesRequestedV1,
                StageAdvancedV1,
                CaseRejectedV1,
                CaseNominatedV1,
                IterationEscalatedV1,
                TaskDueSoonV1,
                ChangesAnsweredV1,
            ],
            background_jobs=[jobs.escalate_overdue_iterations, jobs.remind_task_holders],
            page_routers=[reviewer_pages_router()],
            dashboard=_at_a_glance,
        )
    )

"""Intake's domain section on the operator dashboard: the funnel per call."""

from __future__ import annotations

import uuid

from services.intake import workflow
from services.intake.domain import CaseStatus
from services.intake.repository import FunnelRow, IntakeRepository
from shared.events import CallAnnouncedV1
from tests.support.fakes import FakeUnitOfWork

CALL = uuid.uuid4()


class FakeFunnel(IntakeRepository):
    def __init__(self, rows: list[FunnelRow]) -> None:  # no connection
        self.rows = rows

    async def funnel(self) -> list[FunnelRow]:
        return self.rows


async def test_the_funnel_is_one_row_per_call_and_status_with_its_count() -> None:
    repo = FakeFunnel(
        [FunnelRow(CALL, "Ideas 2027", CaseStatus.SUBMITTED, 3), FunnelRow(CALL, "Ideas 2027", CaseStatus.REJECTED, 1)]
    )
    [funnel] = await workflow.at_a_glance(uow=FakeUnitOfWork(repo, service="intake", publishes=[CallAnnouncedV1]))
    assert funnel.caption == "glance_funnel" and funnel.test_id == "funnel"
    assert funnel.columns == ("glance_call", "status", "glance_cases")
    assert list(funnel.rows) == [("Ideas 2027", "submitted", 3), ("Ideas 2027", "rejected", 1)]


async def test_no_cases_is_an_empty_funnel() -> None:
    [funnel] = await workflow.at_a_glance(uow=FakeUnitOfWork(FakeFunnel([]), service="intake", publishes=[]))
    assert list(funnel.rows) == []

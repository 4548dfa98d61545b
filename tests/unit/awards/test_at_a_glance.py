"""Awards' domain section on the operator dashboard: scoring progress per call and per juror."""

from __future__ import annotations

import uuid

from services.awards import workflow
from services.awards.repository import AwardsRepository, CallScoring, JurorScoring
from tests.support.fakes import FakeUnitOfWork


class FakeScoring(AwardsRepository):
    def __init__(self) -> None:  # no connection
        pass

    async def scoring_per_call(self) -> list[CallScoring]:
        return [CallScoring(uuid.uuid4(), "Ideas 2027", scored=1, assigned=3)]

    async def scoring_per_juror(self) -> list[JurorScoring]:
        return [JurorScoring("j1", scored=1, assigned=2), JurorScoring("j2", scored=0, assigned=1)]


async def test_scored_of_assigned_per_call_and_per_juror() -> None:
    per_call, per_juror = await workflow.at_a_glance(uow=FakeUnitOfWork(FakeScoring(), service="awards", publishes=[]))
    assert per_call.test_id == "scoring-per-call" and per_juror.test_id == "scoring-per-juror"
    assert per_call.columns == ("glance_call", "glance_scored", "glance_assigned")
    assert list(per_call.rows) == [("Ideas 2027", 1, 3)]
    assert list(per_juror.rows) == [("j1", 1, 2), ("j2", 0, 1)]

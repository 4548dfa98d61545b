"""The reviewer's workbench lists the tasks the reviewer holds now: their own, as the repository reads them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.review import workflow
from services.review.repository import HeldTaskRow, ReviewRepository
from shared.auth import Principal
from shared.vocabulary import IsoStage, Role
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


class FakeHeld(ReviewRepository):
    def __init__(self, rows: dict[str, list[HeldTaskRow]]) -> None:  # no connection
        self.rows = rows

    async def held_tasks(self, reviewer_id: str) -> list[HeldTaskRow]:
        return self.rows.get(reviewer_id, [])


async def test_a_reviewer_sees_the_tasks_they_hold_and_no_one_elses() -> None:
    mine = HeldTaskRow(
        task_id=uuid.uuid4(),
        case_title="Digitaaliset luvat",
        stage=IsoStage.CONCEPT,
        iteration=2,
        due_at=NOW + timedelta(days=3),
        lease_expires_at=NOW + timedelta(hours=2),
        lease_expired=False,
    )
    repo = FakeHeld({"rita": [mine], "ola": [mine]})
    uow = FakeUnitOfWork(repo, service="review", publishes=[])
    rita = Principal(user_id="rita", roles=frozenset({Role.REVIEWER}), organisation_id="org-board")
    assert await workflow.held_tasks(uow=uow, reviewer=rita) == [mine]
    nobody = Principal(user_id="nobody", roles=frozenset({Role.REVIEWER}), organisation_id="org-board")
    assert await workflow.held_tasks(uow=uow, reviewer=nobody) == []

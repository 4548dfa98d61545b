"""Review's domain section on the operator dashboard: the queue and each reviewer's load."""

from __future__ import annotations

from services.review import workflow
from services.review.repository import QueueFigures, ReviewerLoad, ReviewRepository
from tests.support.fakes import FakeUnitOfWork


class FakeQueue(ReviewRepository):
    def __init__(self, queue: QueueFigures, load: list[ReviewerLoad]) -> None:  # no connection
        self.queue, self.load = queue, load

    async def queue_figures(self) -> QueueFigures:
        return self.queue

    async def reviewer_load(self) -> list[ReviewerLoad]:
        return self.load


async def test_the_queue_and_the_load_per_reviewer() -> None:
    repo = FakeQueue(
        QueueFigures(queued=4, claimed=2, overdue=1), [ReviewerLoad("rita", 1, 5), ReviewerLoad("ola", 0, 2)]
    )
    queue, load = await workflow.at_a_glance(uow=FakeUnitOfWork(repo, service="review", publishes=[]))
    assert (queue.test_id, queue.columns) == ("queue", ("glance_queued", "glance_claimed", "glance_overdue"))
    assert list(queue.rows) == [(4, 2, 1)]
    assert load.test_id == "reviewer-load"
    assert list(load.rows) == [("rita", 1, 5), ("ola", 0, 2)]

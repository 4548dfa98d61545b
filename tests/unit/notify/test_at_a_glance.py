"""Notify's domain section on the operator dashboard: deliveries by channel and status, the latest failures."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notify import workflow
from services.notify.domain import DeliveryStatus
from services.notify.repository import DeliveryCount, FailedDelivery, NotifyRepository
from tests.support.fakes import FakeUnitOfWork

WHEN = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeDeliveries(NotifyRepository):
    def __init__(self) -> None:  # no connection
        self.asked_limit: int | None = None

    async def delivery_counts(self) -> list[DeliveryCount]:
        return [DeliveryCount("email", DeliveryStatus.DELIVERED, 7), DeliveryCount("webhook", DeliveryStatus.FAILED, 1)]

    async def latest_failures(self, *, limit: int) -> list[FailedDelivery]:
        self.asked_limit = limit
        return [FailedDelivery(WHEN, "webhook", "hook-1", "case_submitted", "HTTP 410 Gone")]


async def test_deliveries_by_channel_and_status_and_the_latest_failures_with_reasons() -> None:
    repo = FakeDeliveries()
    counts, failures = await workflow.at_a_glance(uow=FakeUnitOfWork(repo, service="notify", publishes=[]))
    assert list(counts.rows) == [("email", "delivered", 7), ("webhook", "failed", 1)]
    assert failures.test_id == "failures" and failures.columns[-1] == "glance_reason"
    assert list(failures.rows) == [(WHEN, "webhook", "hook-1", "case_submitted", "HTTP 410 Gone")]
    assert repo.asked_limit == workflow.GLANCE_FAILURES

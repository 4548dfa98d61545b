"""Intake's domain section on the operator dashboard: the funnel per call in the issue's order of stages, and the
time cases spend in each stage."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from services.intake import workflow
from services.intake.domain import FUNNEL_STAGE, TIMED_STAGES, CaseStatus, FunnelStage
from services.intake.repository import FunnelRow, IntakeRepository, StageTime
from shared.events import CallAnnouncedV1
from shared.glance import Word
from tests.support.fakes import FakeUnitOfWork

CALL, OLDER_CALL = uuid.uuid4(), uuid.uuid4()
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


class FakeGlance(IntakeRepository):
    def __init__(self, rows: list[FunnelRow], times: list[StageTime] | None = None) -> None:  # no connection
        self.rows = rows
        self.times = times or []
        self.asked: tuple[Collection[FunnelStage], datetime] | None = None

    async def funnel(self) -> list[FunnelRow]:
        return self.rows

    async def time_in_stage(self, *, stages: Collection[FunnelStage], now: datetime) -> list[StageTime]:
        self.asked = (stages, now)
        return self.times


def _uow(repo: IntakeRepository) -> FakeUnitOfWork[IntakeRepository]:
    return FakeUnitOfWork(repo, service="intake", publishes=[CallAnnouncedV1])


def test_every_status_is_in_one_stage_and_the_stages_follow_the_issue() -> None:
    assert set(FUNNEL_STAGE) == set(CaseStatus)
    assert [s.value for s in FunnelStage] == [
        "submitted",
        "in_review",
        "nominated",
        "decided",
        "published",
        "withdrawn",
        "rejected",
    ]
    assert FUNNEL_STAGE[CaseStatus.CHANGES_REQUESTED] is FUNNEL_STAGE[CaseStatus.REVISED] is FunnelStage.IN_REVIEW
    assert FUNNEL_STAGE[CaseStatus.IN_EVALUATION] is FunnelStage.NOMINATED
    assert TIMED_STAGES == (FunnelStage.SUBMITTED, FunnelStage.IN_REVIEW, FunnelStage.NOMINATED, FunnelStage.DECIDED)


async def test_the_funnel_is_one_row_per_call_with_its_cases_in_each_stage() -> None:
    repo = FakeGlance(
        [
            FunnelRow(CALL, "Ideas 2027", CaseStatus.SUBMITTED, 3),
            FunnelRow(CALL, "Ideas 2027", CaseStatus.IN_REVIEW, 1),
            FunnelRow(CALL, "Ideas 2027", CaseStatus.CHANGES_REQUESTED, 2),
            FunnelRow(CALL, "Ideas 2027", CaseStatus.IN_EVALUATION, 1),
            FunnelRow(CALL, "Ideas 2027", CaseStatus.REJECTED, 1),
            FunnelRow(OLDER_CALL, "Ideas 2026", CaseStatus.PUBLISHED, 4),
        ]
    )
    funnel, _ = await workflow.at_a_glance(uow=_uow(repo), now=NOW)
    assert funnel.caption == "glance_funnel" and funnel.test_id == "funnel"
    assert funnel.columns == (
        "glance_call",
        "sub.status.submitted",
        "sub.status.in_review",
        "sub.status.nominated",
        "sub.status.decided",
        "sub.status.published",
        "sub.status.withdrawn",
        "sub.status.rejected",
    )
    assert list(funnel.rows) == [("Ideas 2027", 3, 3, 1, 0, 0, 0, 1), ("Ideas 2026", 0, 0, 0, 0, 4, 0, 0)]


async def test_time_in_stage_is_asked_for_the_stages_cases_leave_and_shown_per_call_and_stage() -> None:
    times = [
        StageTime(CALL, "Ideas 2027", FunnelStage.SUBMITTED, 2, timedelta(hours=1), timedelta(hours=2), 1, None),
        StageTime(CALL, "Ideas 2027", FunnelStage.IN_REVIEW, 0, None, None, 2, timedelta(days=3)),
    ]
    repo = FakeGlance([], times)
    _, time_in_stage = await workflow.at_a_glance(uow=_uow(repo), now=NOW)
    assert repo.asked == (TIMED_STAGES, NOW)
    assert time_in_stage.caption == "glance_time_in_stage" and time_in_stage.test_id == "time-in-stage"
    assert time_in_stage.columns == (
        "glance_call",
        "glance_stage",
        "glance_moved_on",
        "glance_median",
        "glance_longest",
        "glance_waiting",
        "glance_longest_waiting",
    )
    assert list(time_in_stage.rows) == [
        ("Ideas 2027", Word("sub.status.submitted"), 2, timedelta(hours=1), timedelta(hours=2), 1, None),
        ("Ideas 2027", Word("sub.status.in_review"), 0, None, None, 2, timedelta(days=3)),
    ]


async def test_no_cases_is_an_empty_funnel() -> None:
    funnel, time_in_stage = await workflow.at_a_glance(uow=_uow(FakeGlance([])), now=NOW)
    assert list(funnel.rows) == [] and list(time_in_stage.rows) == []

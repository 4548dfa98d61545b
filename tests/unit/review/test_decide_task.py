"""Deciding a review task, the use case with the races, on a fake repository: no Kafka, no PostgreSQL.

The real-database tests (tests/integration/review) prove the SQL and the locking; these prove what the
use case does with what it reads: which events it emits in one unit of work, what it records, what it refuses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.review import workflow
from services.review.domain import (
    CaseDetails,
    Decision,
    Iteration,
    IterationStatus,
    ReviewedCase,
    ReviewStatus,
    Task,
    TaskSlot,
    TaskStatus,
    Verdict,
)
from services.review.repository import ReviewRepository
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotFound, Refused
from shared.events import (
    CaseHeader,
    CaseNominatedV1,
    CaseRejectedV1,
    ChangesRequestedV1,
    FeedbackItem,
    IterationOpenedV1,
    StageAdvancedV1,
)
from shared.vocabulary import Category, IsoStage, Language, Role
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TIMEBOX = timedelta(hours=72)
CASE_ORG = "org-espoo"
REVIEWER_ORG = "org-review-board"


class FakeReviewRepository(ReviewRepository):
    """Review's tables in memory: just what deciding a task reads and writes."""

    def __init__(self) -> None:  # no connection
        self.cases: dict[uuid.UUID, ReviewedCase] = {}
        self.iterations: dict[tuple[uuid.UUID, int], Iteration] = {}
        self.tasks: dict[uuid.UUID, Task] = {}
        self.locked_cases: list[uuid.UUID] = []

    # ----------------------------------------------------------------------- arranging

    def add_case(self, *, stage: IsoStage, reviewers: int, organisation_id: str = CASE_ORG) -> ReviewedCase:
        header = CaseHeader(
            case_id=uuid.uuid4(),
            call_id=uuid.uuid4(),
            call_title="Quality Innovation Award 2026",
            title="Digital building permits",
            summary="Permits in a day",
            category=Category.PUBLIC_SECTOR,
            language=Language.FI,
            organisation_id=organisation_id,
            organisation_name="City of Espoo",
        )
        case = ReviewedCase(
            header=header,
            status=ReviewStatus.IN_REVIEW,
            stage=stage,
            revision=1,
            reviewers_per_iteration=reviewers,
            details=CaseDetails(problem="Permits take weeks."),
        )
        self.cases[case.case_id] = case
        self._open(case.case_id, stage=stage, revision=1, reviewers=reviewers, timebox=TIMEBOX)
        return case

    def claim(self, case_id: uuid.UUID, *, reviewer_id: str, lease_expired: bool = False) -> Task:
        """Give the reviewer the case's first queued task of its latest iteration."""
        latest = max(n for (c, n) in self.iterations if c == case_id)
        task = next(
            t
            for t in sorted(self.tasks.values(), key=lambda t: t.slot)
            if t.case_id == case_id and t.iteration == latest and t.status is TaskStatus.QUEUED
        )
        self.tasks[task.task_id] = replace(
            task,
            status=TaskStatus.CLAIMED,
            reviewer_id=reviewer_id,
            claimed_at=NOW,
            lease_expires_at=NOW + timedelta(minutes=30),
            lease_expired=lease_expired,
        )
        return self.tasks[task.task_id]

    def set_task_status(self, task_id: uuid.UUID, status: TaskStatus) -> None:
        self.tasks[task_id] = replace(self.tasks[task_id], status=status)

    def _open(
        self, case_id: uuid.UUID, *, stage: IsoStage, revision: int, reviewers: int, timebox: timedelta
    ) -> Iteration:
        number = 1 + max((n for (c, n) in self.iterations if c == case_id), default=0)
        iteration = Iteration(
            case_id=case_id,
            iteration=number,
            stage=stage,
            revision=revision,
            status=IterationStatus.OPEN,
            outcome=None,
            opened_at=NOW,
            due_at=NOW + timebox,
            escalated_at=None,
            closed_at=None,
        )
        self.iterations[(case_id, number)] = iteration
        for slot in range(1, reviewers + 1):
            task_id = uuid.uuid4()
            self.tasks[task_id] = Task(
                task_id=task_id,
                iteration=number,
                slot=slot,
                status=TaskStatus.QUEUED,
                stage=stage,
                due_at=iteration.due_at,
                created_at=NOW,
                reviewer_id=None,
                claimed_at=None,
                lease_expires_at=None,
                lease_expired=False,
                decision=None,
                comment=None,
                feedback=(),
                decided_at=None,
                case=self.cases[case_id],
            )
        return iteration

    # ----------------------------------------------------------------------- ReviewRepository

    async def get_case(self, case_id: uuid.UUID, *, for_update: bool = False) -> ReviewedCase | None:
        if for_update:
            self.locked_cases.append(case_id)
        return self.cases.get(case_id)

    async def get_task(self, task_id: uuid.UUID, *, for_update: bool = False) -> Task | None:
        task = self.tasks.get(task_id)
        if task is None:
            return None
        return replace(task, case=self.cases[task.case_id])  # the join sees the case as it is now

    async def record_decision(self, *, task_id: uuid.UUID, verdict: Verdict) -> None:
        self.tasks[task_id] = replace(
            self.tasks[task_id],
            status=TaskStatus.DECIDED,
            decision=verdict.decision,
            comment=verdict.comment,
            feedback=verdict.feedback,
            decided_at=NOW,
            lease_expires_at=None,
        )

    async def tasks_of_iterations(self, case_id: uuid.UUID, *, iterations: Sequence[int]) -> list[TaskSlot]:
        return [
            TaskSlot(
                task_id=t.task_id,
                iteration=t.iteration,
                slot=t.slot,
                status=t.status,
                reviewer_id=t.reviewer_id,
                claimed_at=t.claimed_at,
                lease_expires_at=t.lease_expires_at,
                decision=t.decision,
                comment=t.comment,
                feedback=t.feedback,
                decided_at=t.decided_at,
            )
            for t in sorted(self.tasks.values(), key=lambda t: (t.iteration, t.slot))
            if t.case_id == case_id and t.iteration in iterations
        ]

    async def set_feedback(self, *, task_id: uuid.UUID, feedback: Sequence[FeedbackItem]) -> None:
        self.tasks[task_id] = replace(self.tasks[task_id], feedback=tuple(feedback))

    async def close_iteration(
        self, *, case_id: uuid.UUID, iteration: int, status: IterationStatus, outcome: Decision | None
    ) -> None:
        key = (case_id, iteration)
        self.iterations[key] = replace(self.iterations[key], status=status, outcome=outcome, closed_at=NOW)

    async def set_case_status(self, *, case_id: uuid.UUID, status: ReviewStatus, stage: IsoStage | None = None) -> None:
        case = self.cases[case_id]
        self.cases[case_id] = replace(case, status=status, stage=stage or case.stage)

    async def open_iteration(
        self, *, case_id: uuid.UUID, stage: IsoStage, revision: int, reviewers: int, timebox: timedelta
    ) -> Iteration:
        return self._open(case_id, stage=stage, revision=revision, reviewers=reviewers, timebox=timebox)


def reviewer(user_id: str, organisation_id: str = REVIEWER_ORG) -> Principal:
    return Principal(user_id=user_id, roles=frozenset({Role.REVIEWER}), organisation_id=organisation_id)


async def decide(
    repo: FakeReviewRepository,
    task: Task,
    decision: Decision,
    *,
    by: str,
    organisation_id: str = REVIEWER_ORG,
    comment: str | None = None,
    feedback: tuple[FeedbackItem, ...] = (),
) -> tuple[workflow.DecisionResult, FakeUnitOfWork[ReviewRepository]]:
    uow: FakeUnitOfWork[ReviewRepository] = FakeUnitOfWork(repo, service="review")
    result = await workflow.decide_task(
        uow=uow,
        task_id=task.task_id,
        reviewer=reviewer(by, organisation_id),
        verdict=Verdict(decision=decision, comment=comment or f"{decision} by {by}", feedback=feedback),
        timebox=TIMEBOX,
    )
    return result, uow


async def refused(
    repo: FakeReviewRepository,
    task: Task,
    *,
    by: str | None = None,
    organisation_id: str = REVIEWER_ORG,
    feedback: tuple[FeedbackItem, ...] = (),
) -> tuple[Refused, FakeUnitOfWork[ReviewRepository]]:
    """Try to nominate ``task`` (by its holder unless ``by``); return the refusal and the unit of work."""
    uow: FakeUnitOfWork[ReviewRepository] = FakeUnitOfWork(repo, service="review")
    with pytest.raises(Refused) as caught:
        await workflow.decide_task(
            uow=uow,
            task_id=task.task_id,
            reviewer=reviewer(by or str(task.reviewer_id), organisation_id),
            verdict=Verdict(decision=Decision.NOMINATE, comment="no", feedback=feedback),
            timebox=TIMEBOX,
        )
    return caught.value, uow


# --------------------------------------------------------------------------- one reviewer


async def test_request_changes_settles_the_iteration_and_waits_for_a_revision() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.OPPORTUNITY, reviewers=1)
    task = repo.claim(case.case_id, reviewer_id="r-anna")
    feedback = (
        FeedbackItem(checklist_item="problem is evidenced", met=False, comment="no data"),
        FeedbackItem(checklist_item="users identified", met=True),
        FeedbackItem(checklist_item="opportunity fits the call", met=False, comment="which call goal?"),
    )

    result, uow = await decide(
        repo, task, Decision.REQUEST_CHANGES, by="r-anna", comment="Show evidence.", feedback=feedback
    )

    assert (uow.commits, uow.rollbacks) == (1, 0)
    [event] = uow.events
    assert isinstance(event, ChangesRequestedV1)
    assert (event.case_id, event.call_id, event.iteration) == (case.case_id, case.call_id, 1)
    assert event.reviewer_ids == ["r-anna"] and event.comment == "Show evidence."
    assert [(f.checklist_item, f.met, f.comment) for f in event.feedback] == [
        (f.checklist_item, f.met, f.comment) for f in feedback
    ]
    # The unmet items became points to address, with distinct ids; the stored decision carries the same ids.
    ids = [f.point_id for f in event.feedback]
    assert ids[1] is None and ids[0] is not None and ids[2] is not None and ids[0] != ids[2]
    assert [f.point_id for f in repo.tasks[task.task_id].feedback] == ids
    iteration = repo.iterations[(case.case_id, 1)]
    assert iteration.status is IterationStatus.CHANGES_REQUESTED and iteration.outcome is Decision.REQUEST_CHANGES
    assert iteration.closed_at is not None
    assert repo.cases[case.case_id].status is ReviewStatus.CHANGES_REQUESTED
    assert repo.tasks[task.task_id].status is TaskStatus.DECIDED
    assert result.outcome is Decision.REQUEST_CHANGES and result.review_status is ReviewStatus.CHANGES_REQUESTED
    assert result.next_iteration is None and result.stage is IsoStage.OPPORTUNITY
    assert repo.locked_cases == [case.case_id]  # the case is locked before the decision is taken


async def test_advance_announces_the_stage_and_opens_the_next_iteration_in_the_same_unit_of_work() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.SOLUTION, reviewers=1)
    task = repo.claim(case.case_id, reviewer_id="r-cecilia")

    result, uow = await decide(repo, task, Decision.ADVANCE, by="r-cecilia")

    assert uow.commits == 1
    advanced, opened = uow.events
    assert isinstance(advanced, StageAdvancedV1)
    assert (advanced.from_stage, advanced.to_stage) == (IsoStage.SOLUTION, IsoStage.DEPLOYMENT)
    assert advanced.iteration == 1 and advanced.reviewer_ids == ["r-cecilia"]
    assert isinstance(opened, IterationOpenedV1)
    assert (opened.case_id, opened.iteration, opened.stage, opened.revision) == (
        case.case_id,
        2,
        IsoStage.DEPLOYMENT,
        1,
    )
    assert repo.iterations[(case.case_id, 1)].status is IterationStatus.ADVANCED
    assert repo.iterations[(case.case_id, 2)].status is IterationStatus.OPEN
    assert repo.cases[case.case_id].status is ReviewStatus.IN_REVIEW
    assert repo.cases[case.case_id].stage is IsoStage.DEPLOYMENT
    [queued] = [t for t in repo.tasks.values() if t.iteration == 2]
    assert queued.status is TaskStatus.QUEUED and queued.stage is IsoStage.DEPLOYMENT
    assert (result.outcome, result.stage, result.next_iteration) == (Decision.ADVANCE, IsoStage.DEPLOYMENT, 2)


# --------------------------------------------------------------------------- four-eyes


async def test_four_eyes_first_decision_is_recorded_and_announces_nothing() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.CONCEPT, reviewers=2)
    first = repo.claim(case.case_id, reviewer_id="r-dana")
    repo.claim(case.case_id, reviewer_id="r-eero")

    result, uow = await decide(repo, first, Decision.NOMINATE, by="r-dana")

    assert uow.commits == 1 and uow.events == []
    assert result.outcome is None and result.review_status is ReviewStatus.IN_REVIEW and result.next_iteration is None
    assert repo.tasks[first.task_id].status is TaskStatus.DECIDED
    assert repo.tasks[first.task_id].decision is Decision.NOMINATE
    assert repo.iterations[(case.case_id, 1)].status is IterationStatus.OPEN
    assert repo.cases[case.case_id].status is ReviewStatus.IN_REVIEW


async def test_four_eyes_second_decision_settles_with_the_more_cautious_outcome() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.CONCEPT, reviewers=2)
    first = repo.claim(case.case_id, reviewer_id="r-dana")
    second = repo.claim(case.case_id, reviewer_id="r-eero")
    await decide(repo, first, Decision.NOMINATE, by="r-dana", comment="Excellent.")

    result, uow = await decide(repo, second, Decision.REJECT, by="r-eero", comment="Out of scope.")

    [event] = uow.events
    assert isinstance(event, CaseRejectedV1)
    assert event.reviewer_ids == ["r-dana", "r-eero"]
    assert event.comment == "Out of scope."  # the reasons of those who chose the outcome
    assert result.outcome is Decision.REJECT and result.review_status is ReviewStatus.REJECTED
    assert repo.iterations[(case.case_id, 1)].outcome is Decision.REJECT
    assert repo.cases[case.case_id].status is ReviewStatus.REJECTED


async def test_four_eyes_request_changes_makes_points_of_both_reviewers_unmet_items() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.CONCEPT, reviewers=2)
    first = repo.claim(case.case_id, reviewer_id="r-dana")
    second = repo.claim(case.case_id, reviewer_id="r-eero")
    risks = FeedbackItem(checklist_item="main risks identified", met=False, comment="which risks?")
    users = FeedbackItem(checklist_item="users involved in shaping the concept", met=False)
    _, waiting = await decide(repo, first, Decision.ADVANCE, by="r-dana", feedback=(risks,))
    # Nothing is numbered while the iteration waits: the outcome is not known yet.
    assert waiting.events == [] and repo.tasks[first.task_id].feedback[0].point_id is None

    _, uow = await decide(repo, second, Decision.REQUEST_CHANGES, by="r-eero", feedback=(users,))

    [event] = uow.events
    assert isinstance(event, ChangesRequestedV1)
    assert [f.checklist_item for f in event.feedback] == [risks.checklist_item, users.checklist_item]
    assert all(f.point_id is not None for f in event.feedback)
    stored = [repo.tasks[t.task_id].feedback[0].point_id for t in (first, second)]
    assert stored == [f.point_id for f in event.feedback]


async def test_unmet_items_of_a_rejection_are_no_points() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.CONCEPT, reviewers=1)
    task = repo.claim(case.case_id, reviewer_id="r-anna")
    unmet = (FeedbackItem(checklist_item="main risks identified", met=False),)

    _, uow = await decide(repo, task, Decision.REJECT, by="r-anna", feedback=unmet)

    [event] = uow.events
    assert isinstance(event, CaseRejectedV1) and event.feedback[0].point_id is None
    assert repo.tasks[task.task_id].feedback[0].point_id is None


async def test_four_eyes_nomination_needs_both_reviewers() -> None:
    repo = FakeReviewRepository()
    split = repo.add_case(stage=IsoStage.CONCEPT, reviewers=2)
    first = repo.claim(split.case_id, reviewer_id="r-dana")
    second = repo.claim(split.case_id, reviewer_id="r-eero")
    await decide(repo, first, Decision.NOMINATE, by="r-dana")
    result, uow = await decide(repo, second, Decision.ADVANCE, by="r-eero")
    assert result.outcome is Decision.ADVANCE
    assert not [e for e in uow.events if isinstance(e, CaseNominatedV1)]
    assert [type(e) for e in uow.events] == [StageAdvancedV1, IterationOpenedV1]

    agreed = repo.add_case(stage=IsoStage.CONCEPT, reviewers=2)
    first = repo.claim(agreed.case_id, reviewer_id="r-dana")
    second = repo.claim(agreed.case_id, reviewer_id="r-eero")
    await decide(repo, first, Decision.NOMINATE, by="r-dana", comment="Excellent.")
    result, uow = await decide(repo, second, Decision.NOMINATE, by="r-eero", comment="Agree.")
    [event] = uow.events
    assert isinstance(event, CaseNominatedV1)
    assert event.header() == agreed.header
    assert event.reviewer_ids == ["r-dana", "r-eero"] and event.comment == "Excellent.\n\nAgree."
    assert event.stage is IsoStage.CONCEPT and event.iteration == 1
    assert result.review_status is ReviewStatus.NOMINATED


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        ("lease_expired", "lease expired: claim the task again"),
        ("decided", "the task is already decided"),
        ("cancelled", "the task was cancelled (the case was withdrawn)"),
    ],
)
async def test_no_decision_without_a_standing_claim(arrange: str, message: str) -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.CONCEPT, reviewers=1)
    task = repo.claim(case.case_id, reviewer_id="r-frida", lease_expired=arrange == "lease_expired")
    if arrange == "decided":
        await decide(repo, task, Decision.REQUEST_CHANGES, by="r-frida")
    if arrange == "cancelled":
        repo.set_task_status(task.task_id, TaskStatus.CANCELLED)
    before = repo.tasks[task.task_id]

    error, uow = await refused(repo, task)

    assert isinstance(error, Conflict) and error.status_code == 409
    assert str(error) == message
    assert (uow.commits, uow.rollbacks, uow.events) == (0, 1, [])
    assert repo.tasks[task.task_id] == before


async def test_no_decision_on_a_case_of_the_reviewers_own_organisation() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.CONCEPT, reviewers=1, organisation_id="org-vantaa")
    task = repo.claim(case.case_id, reviewer_id="r-own")

    error, uow = await refused(repo, task, organisation_id="org-vantaa")

    assert isinstance(error, Conflict) and error.status_code == 409
    assert "conflict of interest" in str(error)
    assert (uow.commits, uow.events) == (0, [])
    assert repo.tasks[task.task_id].status is TaskStatus.CLAIMED


async def test_someone_elses_task_is_not_found() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.CONCEPT, reviewers=1)
    task = repo.claim(case.case_id, reviewer_id="r-gustav")

    error, uow = await refused(repo, task, by="r-frida")

    assert isinstance(error, NotFound) and error.status_code == 404
    assert (uow.commits, uow.events) == (0, [])
    assert repo.tasks[task.task_id].status is TaskStatus.CLAIMED


async def test_feedback_must_name_items_of_the_stages_checklist() -> None:
    repo = FakeReviewRepository()
    case = repo.add_case(stage=IsoStage.OPPORTUNITY, reviewers=1)
    task = repo.claim(case.case_id, reviewer_id="r-mikko")
    feedback = (FeedbackItem(checklist_item="made up", met=True),)

    error, uow = await refused(repo, task, feedback=feedback)

    assert isinstance(error, Invalid) and error.status_code == 422
    assert "not on the opportunity checklist" in str(error)
    assert (uow.commits, uow.events) == (0, [])
    assert repo.tasks[task.task_id].status is TaskStatus.CLAIMED

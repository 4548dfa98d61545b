"""What review tells the people in the loop (docs/people.md): the reviewer as a person from their token, when a
task's holder is reminded (TaskDueSoonV1), and whom a revision's answer to requested changes reaches and with
what (ChangesAnsweredV1). Pure rules, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.review import domain, workflow
from services.review.domain import (
    Decision,
    HeldTask,
    Iteration,
    IterationStatus,
    Reminder,
    ReminderWindows,
    ReviewStatus,
    RevisionNote,
    TaskSlot,
    TaskStatus,
)
from services.review.repository import ReviewRepository
from services.review.settings import ReviewSettings
from shared.events import CaseHeader, DueReason, FeedbackItem, Person, TaskDueSoonV1
from shared.vocabulary import Category, IsoStage, Language
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WINDOWS = ReminderWindows(lease=timedelta(minutes=5), sla=timedelta(hours=24))
TICK = timedelta(microseconds=1)  # PostgreSQL's timestamp resolution
HEADER = CaseHeader(
    case_id=uuid.uuid4(),
    call_id=uuid.uuid4(),
    call_title="Quality Innovation Award 2026",
    title="Digital building permits",
    summary="Permits in a day",
    category=Category.PUBLIC_SECTOR,
    language=Language.FI,
    organisation_id="org-espoo",
    organisation_name="City of Espoo",
)
RIIKKA = Person(user_id="r-riikka", name="Riikka Reviewer", email="riikka@example.org", language=Language.SV)


# --------------------------------------------------------------------------- the reviewer as a person


def test_the_reviewer_is_the_tokens_identity() -> None:
    person = domain.reviewer_person(
        user_id="r-riikka", name="Riikka Reviewer", email="riikka@example.org", language=Language.SV
    )
    assert person == RIIKKA


@pytest.mark.parametrize("email", ["", "not an address", "riikka@", "@example.org"])
def test_a_reviewer_without_a_usable_email_has_none(email: str) -> None:
    person = domain.reviewer_person(user_id="r-riikka", name="Riikka", email=email, language=Language.FI)
    assert person == Person(user_id="r-riikka", name="Riikka", email=None, language=Language.FI)


def slot(
    *,
    slot_no: int = 1,
    iteration: int = 1,
    reviewer: str | None = "r-anna",
    person: Person | None = None,
    decision: Decision | None = Decision.REQUEST_CHANGES,
    feedback: tuple[FeedbackItem, ...] = (),
) -> TaskSlot:
    decided = decision is not None
    return TaskSlot(
        task_id=uuid.uuid4(),
        iteration=iteration,
        slot=slot_no,
        status=TaskStatus.DECIDED if decided else (TaskStatus.CLAIMED if reviewer else TaskStatus.QUEUED),
        reviewer_id=reviewer,
        claimed_at=NOW if reviewer else None,
        lease_expires_at=None if decided or not reviewer else NOW + timedelta(minutes=30),
        decision=decision,
        comment="changes please" if decided else None,
        feedback=feedback,
        decided_at=NOW if decided else None,
        reviewer=person,
    )


def test_a_slots_reviewer_is_as_recorded_at_claim_else_their_user_id_only() -> None:
    assert domain.slot_reviewer(slot(reviewer="r-riikka", person=RIIKKA)) == RIIKKA
    assert domain.slot_reviewer(slot(reviewer="r-old", person=None)) == Person(user_id="r-old")
    assert domain.slot_reviewer(slot(reviewer=None, decision=None)) is None


# --------------------------------------------------------------------------- reminders to the holder


def held(
    *,
    lease_left: timedelta = timedelta(minutes=30),
    sla_left: timedelta = timedelta(hours=72),
    status: TaskStatus = TaskStatus.CLAIMED,
    lease_reminded_for: datetime | None = None,
    sla_reminded: tuple[str, ...] = (),
) -> HeldTask:
    return HeldTask(
        task_id=uuid.uuid4(),
        status=status,
        iteration=1,
        case=HEADER,
        reviewer=RIIKKA,
        lease_expires_at=NOW + lease_left,
        iteration_due_at=NOW + sla_left,
        lease_reminded_for=lease_reminded_for,
        sla_reminded_reviewers=sla_reminded,
    )


def reasons(task: HeldTask) -> list[DueReason]:
    return [r.reason for r in domain.due_reminders(task, now=NOW, windows=WINDOWS)]


def test_a_fresh_claim_far_from_its_ends_has_no_reminder() -> None:
    assert reasons(held()) == []


@pytest.mark.parametrize(
    ("lease_left", "due"),
    [
        (WINDOWS.lease + TICK, False),  # just outside the window
        (WINDOWS.lease, True),  # its first instant
        (timedelta(minutes=1), True),
        (timedelta(0), True),  # the lease's last instant: the claim still holds
        (-TICK, False),  # expired: the task is back in the queue, no longer the reviewer's
        (-timedelta(hours=1), False),
    ],
)
def test_the_lease_reminder_window(lease_left: timedelta, due: bool) -> None:
    assert reasons(held(lease_left=lease_left)) == ([DueReason.LEASE] if due else [])


def test_the_lease_reminder_is_due_at_the_lease_expiry() -> None:
    task = held(lease_left=timedelta(minutes=3))
    assert domain.due_reminders(task, now=NOW, windows=WINDOWS) == [Reminder(DueReason.LEASE, task.lease_expires_at)]


def test_the_lease_reminder_goes_once_per_lease() -> None:
    lease_left = timedelta(minutes=3)
    assert reasons(held(lease_left=lease_left, lease_reminded_for=NOW + lease_left)) == []
    # A new claim (or the same reviewer claiming again after the lease ran out) has a new lease: reminded again.
    assert reasons(held(lease_left=lease_left, lease_reminded_for=NOW - timedelta(minutes=40))) == [DueReason.LEASE]


@pytest.mark.parametrize(
    ("sla_left", "due"),
    [
        (WINDOWS.sla + TICK, False),
        (WINDOWS.sla, True),
        (timedelta(hours=1), True),
        (timedelta(0), True),
        (-timedelta(hours=5), True),  # already overdue (and escalated): the holder is still told
    ],
)
def test_the_sla_reminder_window(sla_left: timedelta, due: bool) -> None:
    assert reasons(held(sla_left=sla_left)) == ([DueReason.SLA] if due else [])


def test_the_sla_reminder_is_due_when_the_iteration_is() -> None:
    task = held(sla_left=timedelta(hours=2))
    assert domain.due_reminders(task, now=NOW, windows=WINDOWS) == [Reminder(DueReason.SLA, task.iteration_due_at)]


def test_the_sla_reminder_goes_once_per_task_and_holder() -> None:
    soon = timedelta(hours=2)
    assert reasons(held(sla_left=soon, sla_reminded=("r-riikka",))) == []
    assert reasons(held(sla_left=soon, sla_reminded=("r-anna", "r-riikka"))) == []
    # another reviewer held the task and was reminded; this holder was not
    assert reasons(held(sla_left=soon, sla_reminded=("r-anna",))) == [DueReason.SLA]


def test_both_reminders_at_once_lease_first() -> None:
    task = held(lease_left=timedelta(minutes=2), sla_left=timedelta(hours=1))
    assert domain.due_reminders(task, now=NOW, windows=WINDOWS) == [
        Reminder(DueReason.LEASE, task.lease_expires_at),
        Reminder(DueReason.SLA, task.iteration_due_at),
    ]
    assert reasons(held(lease_left=timedelta(minutes=2), sla_left=timedelta(hours=1), sla_reminded=("r-riikka",))) == [
        DueReason.LEASE
    ]


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.DECIDED, TaskStatus.CANCELLED])
def test_only_a_claimed_task_is_reminded(status: TaskStatus) -> None:
    assert reasons(held(status=status, lease_left=timedelta(minutes=1), sla_left=timedelta(hours=1))) == []


def test_an_expired_lease_silences_the_sla_reminder_too() -> None:
    assert reasons(held(lease_left=-TICK, sla_left=timedelta(hours=1))) == []


def test_a_wider_window_reminds_earlier() -> None:
    task = held(lease_left=timedelta(minutes=20), sla_left=timedelta(hours=40))
    assert domain.due_reminders(task, now=NOW, windows=WINDOWS) == []
    wide = ReminderWindows(lease=timedelta(minutes=20), sla=timedelta(hours=48))
    assert [r.reason for r in domain.due_reminders(task, now=NOW, windows=wide)] == [DueReason.LEASE, DueReason.SLA]


def test_the_reminder_settings_take_fractions() -> None:
    settings = ReviewSettings(lease_reminder_minutes=0.5, sla_reminder_hours=1.5)
    assert (settings.lease_reminder, settings.sla_reminder) == (timedelta(seconds=30), timedelta(minutes=90))
    defaults = ReviewSettings()
    assert (defaults.lease_reminder, defaults.sla_reminder) == (timedelta(minutes=5), timedelta(hours=24))


# --------------------------------------------------------------------------- requested changes answered


def iteration(number: int, outcome: Decision | None) -> Iteration:
    status = IterationStatus.OPEN if outcome is None else IterationStatus.CHANGES_REQUESTED
    return Iteration(
        case_id=HEADER.case_id,
        iteration=number,
        stage=IsoStage.OPPORTUNITY,
        revision=1,
        status=status,
        outcome=outcome,
        opened_at=NOW,
        due_at=NOW + timedelta(hours=72),
        escalated_at=None,
        closed_at=None if outcome is None else NOW,
    )


@pytest.mark.parametrize("status", [ReviewStatus.CHANGES_REQUESTED, ReviewStatus.IN_REVIEW])
def test_a_revision_answers_the_latest_settled_iteration_that_requested_changes(status: ReviewStatus) -> None:
    latest = iteration(3, Decision.REQUEST_CHANGES)
    assert domain.answered_iteration(review_status=status, latest_settled=latest) == 3


@pytest.mark.parametrize("outcome", [Decision.ADVANCE, Decision.REJECT, Decision.NOMINATE])
def test_a_revision_after_another_outcome_answers_nothing(outcome: Decision) -> None:
    latest = iteration(2, outcome)
    assert domain.answered_iteration(review_status=ReviewStatus.IN_REVIEW, latest_settled=latest) is None


def test_a_revision_before_any_settled_iteration_answers_nothing() -> None:
    assert domain.answered_iteration(review_status=ReviewStatus.IN_REVIEW, latest_settled=None) is None


@pytest.mark.parametrize("status", [ReviewStatus.REJECTED, ReviewStatus.NOMINATED, ReviewStatus.WITHDRAWN])
def test_a_revision_of_a_case_out_of_review_answers_nothing(status: ReviewStatus) -> None:
    latest = iteration(1, Decision.REQUEST_CHANGES)
    assert domain.answered_iteration(review_status=status, latest_settled=latest) is None


def unmet(item: str) -> FeedbackItem:
    return FeedbackItem(checklist_item=item, met=False, comment="missing")


def numbered(*slots: TaskSlot) -> list[TaskSlot]:
    return domain.number_points(slots)


def revision(number: int, *addressed: uuid.UUID) -> RevisionNote:
    return RevisionNote(revision=number, change_note="", addressed_points=addressed, received_at=NOW)


def points(slots: list[TaskSlot]) -> list[uuid.UUID]:
    return [f.point_id for s in slots for f in s.feedback if f.point_id is not None]


def test_changes_answered_names_the_iterations_reviewers_by_slot_and_counts_open_points() -> None:
    anna = Person(user_id="r-anna", name="Anna", email="anna@example.org", language=Language.FI)
    slots = numbered(
        slot(slot_no=2, reviewer="r-old", person=None, feedback=(unmet("users identified"),)),
        slot(
            slot_no=1,
            reviewer="r-anna",
            person=anna,
            feedback=(
                unmet("problem is evidenced"),
                FeedbackItem(checklist_item="opportunity fits the call", met=True),
            ),
        ),
    )
    [old_point, anna_point] = points(slots)
    event = domain.changes_answered(
        case=HEADER,
        iteration=1,
        revision=2,
        slots=slots,
        revisions=[revision(2, anna_point)],
        addressed_points=[anna_point],
    )
    assert (event.case_id, event.call_id) == (HEADER.case_id, HEADER.call_id)
    assert (event.case_title, event.call_title) == (HEADER.title, HEADER.call_title)
    assert (event.iteration, event.revision) == (1, 2)
    assert event.reviewers == [anna, Person(user_id="r-old")]
    assert event.addressed_points == [anna_point]
    assert event.open_points == 1
    assert old_point != anna_point


def test_open_points_count_what_no_revision_so_far_addressed() -> None:
    slots = numbered(slot(feedback=(unmet("problem is evidenced"), unmet("users identified"), unmet("value"))))
    first, second, third = points(slots)

    def open_after(*revisions: RevisionNote) -> int:
        return domain.changes_answered(
            case=HEADER,
            iteration=1,
            slots=slots,
            revision=revisions[-1].revision,
            revisions=revisions,
            addressed_points=revisions[-1].addressed_points,
        ).open_points

    assert open_after(revision(2)) == 3
    # an earlier revision's points stay addressed; ids that are no points of the iteration change nothing
    assert open_after(revision(2, first), revision(3, second, uuid.uuid4())) == 1
    assert open_after(revision(2, first), revision(3, second), revision(4, third)) == 0
    assert open_after(revision(2, first, first)) == 2


def test_only_the_answered_iterations_slots_count() -> None:
    mine = numbered(slot(iteration=2, reviewer="r-anna", feedback=(unmet("users identified"),)))
    earlier = numbered(slot(iteration=1, reviewer="r-ben", feedback=(unmet("problem is evidenced"),)))
    event = domain.changes_answered(
        case=HEADER, iteration=2, revision=3, slots=[*earlier, *mine], revisions=[revision(3)], addressed_points=[]
    )
    assert [p.user_id for p in event.reviewers] == ["r-anna"]
    assert event.open_points == 1


def test_a_reviewer_who_did_not_decide_is_not_named() -> None:
    # (Not a settled iteration's case today, where every slot decided; the rule names deciders only.)
    decided = slot(slot_no=1, reviewer="r-anna")
    holding = slot(slot_no=2, reviewer="r-ben", decision=None)
    event = domain.changes_answered(
        case=HEADER, iteration=1, revision=2, slots=[decided, holding], revisions=[], addressed_points=[]
    )
    assert [p.user_id for p in event.reviewers] == ["r-anna"]


# --------------------------------------------------------------------------- the reminder use case


class FakeReminderRepository(ReviewRepository):
    """The one task the reminder search finds (or none), and the reminders marked sent."""

    def __init__(self, found: tuple[HeldTask, datetime] | None) -> None:  # no connection
        self.found = found
        self.marked: list[tuple[uuid.UUID, Reminder, str]] = []

    async def claim_task_to_remind(self, windows: ReminderWindows) -> tuple[HeldTask, datetime] | None:
        return self.found

    async def mark_reminded(self, *, task_id: uuid.UUID, reminder: Reminder, reviewer_id: str) -> None:
        self.marked.append((task_id, reminder, reviewer_id))


async def test_a_reminder_is_marked_sent_and_emitted_in_one_unit_of_work() -> None:
    task = held(lease_left=timedelta(minutes=2), sla_left=timedelta(hours=1))
    repo = FakeReminderRepository((task, NOW))
    uow: FakeUnitOfWork[ReviewRepository] = FakeUnitOfWork(repo, service="review")
    assert await workflow.remind_due_task(uow=uow, windows=WINDOWS) is True
    lease, sla = Reminder(DueReason.LEASE, task.lease_expires_at), Reminder(DueReason.SLA, task.iteration_due_at)
    assert repo.marked == [(task.task_id, lease, "r-riikka"), (task.task_id, sla, "r-riikka")]
    assert uow.commits == 1
    assert uow.events == [
        TaskDueSoonV1(
            task_id=task.task_id,
            case_id=HEADER.case_id,
            call_id=HEADER.call_id,
            case_title=HEADER.title,
            call_title=HEADER.call_title,
            iteration=1,
            reviewer=RIIKKA,
            reason=reminder.reason,
            due_at=reminder.due_at,
        )
        for reminder in (lease, sla)
    ]


async def test_no_task_to_remind_ends_the_round() -> None:
    uow: FakeUnitOfWork[ReviewRepository] = FakeUnitOfWork(FakeReminderRepository(None), service="review")
    assert await workflow.remind_due_task(uow=uow, windows=WINDOWS) is False
    assert uow.events == [] and uow.commits == 0


async def test_a_found_task_with_nothing_due_ends_the_round_rather_than_loop() -> None:
    repo = FakeReminderRepository((held(), NOW))  # the search and the rule disagree
    uow: FakeUnitOfWork[ReviewRepository] = FakeUnitOfWork(repo, service="review")
    assert await workflow.remind_due_task(uow=uow, windows=WINDOWS) is False
    assert uow.events == [] and repo.marked == [] and uow.commits == 0

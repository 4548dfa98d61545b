"""What review tells the people in the loop, against the real Kafka broker and PostgreSQL (docs/people.md):
the reviewer recorded at claim from their token, the reminders to a task's holder (TaskDueSoonV1) from the
background job, and the reviewers told when a revision answers their requested changes (ChangesAnsweredV1).

Time is moved by setting a task's lease or an iteration's due time in the database, as the escalation test does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.review import jobs
from services.review.app import create
from services.review.domain import ReminderWindows
from services.review.repository import ReviewRepository
from services.review.settings import ReviewSettings
from shared import topics
from shared.consumer import new_correlation_id
from shared.events import (
    CaseRevisedV1,
    ChangesAnsweredV1,
    ChangesRequestedV1,
    CloudEvent,
    DueReason,
    IterationOpenedV1,
    Person,
    StageAdvancedV1,
    TaskDueSoonV1,
)
from shared.runtime import Runtime
from shared.vocabulary import Language
from tests.integration.review.test_review_service import (
    REVIEWER_ORG,
    Review,
    db_fetch,
    decide,
    emitted,
    open_tasks,
    outbox_count,
    prioritise,
    publish,
    snapshot,
    submit,
)
from tests.support.harness import auth, eventually, running_app
from tests.support.infra import reset_database, unique_group
from tests.support.kafka import TopicWatcher, watch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def review(infra_env: dict[str, str]) -> AsyncIterator[Review]:
    db_url = infra_env["KIPINA_REVIEW_DATABASE_URL"]
    await reset_database(db_url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIPINA_REVIEW_CONSUMER_GROUP", unique_group("review-people"))
        mp.setenv("KIPINA_REVIEW_REMINDER_INTERVAL_S", "0.3")
        mp.setenv("KIPINA_LOG_LEVEL", "WARNING")
        app = create()
        async with running_app(app) as client:
            yield Review(client=client, db_url=db_url, bootstrap=infra_env["KIPINA_KAFKA_BOOTSTRAP"])


@pytest.fixture
async def review_events(review: Review) -> AsyncIterator[TopicWatcher]:
    async with watch(review.bootstrap, topics.REVIEW) as watcher:
        yield watcher


def runtime_of(review: Review) -> Runtime:
    runtime: Runtime = review.client._transport.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def windows_of(review: Review) -> ReminderWindows:
    settings = runtime_of(review).settings
    assert isinstance(settings, ReviewSettings)
    return ReminderWindows(lease=settings.lease_reminder, sla=settings.sla_reminder)


async def rounds_done(review: Review, n: int = 2) -> None:
    """Run the reminder job's round ``n`` times here, concurrently (two instances at once), so they surely ran."""
    await asyncio.gather(*(jobs.reminder_round(runtime_of(review), windows_of(review)) for _ in range(n)))


async def claim_as(
    review: Review, case_id: uuid.UUID, *, user: str, name: str = "", email: str = "", lang: str = "en"
) -> dict[str, Any]:
    await prioritise(review, case_id)
    headers = auth("reviewer", user=user, org=REVIEWER_ORG, name=name, email=email, lang=lang)
    response = await review.client.post("/tasks/claim", headers=headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    assert task["case_id"] == str(case_id)
    return task


async def recorded_reviewer(review: Review, task_id: str) -> tuple[Any, ...]:
    [row] = await db_fetch(
        review,
        "SELECT reviewer_id, reviewer_name, reviewer_email, reviewer_language FROM review_tasks WHERE task_id = $1",
        uuid.UUID(task_id),
    )
    return tuple(row)


async def set_lease(review: Review, task_id: str, interval: timedelta) -> datetime:
    [row] = await db_fetch(
        review,
        "UPDATE review_tasks SET lease_expires_at = now() + $2::interval WHERE task_id = $1 RETURNING lease_expires_at",
        uuid.UUID(task_id),
        interval,
    )
    expires: datetime = row["lease_expires_at"]
    return expires


async def set_iteration_due(review: Review, case_id: uuid.UUID, interval: timedelta) -> datetime:
    [row] = await db_fetch(
        review,
        "UPDATE iterations SET due_at = now() + $2::interval WHERE case_id = $1 AND status = 'open' RETURNING due_at",
        case_id,
        interval,
    )
    due: datetime = row["due_at"]
    return due


def reminders(watcher: TopicWatcher, case_id: uuid.UUID, reason: DueReason) -> list[TaskDueSoonV1]:
    found = (
        TaskDueSoonV1.model_validate(e.data)
        for e in watcher.events(subject=str(case_id), event_type=TaskDueSoonV1.event_type)
    )
    return [r for r in found if r.reason is reason]


async def reminded(watcher: TopicWatcher, case_id: uuid.UUID, reason: DueReason, *, count: int = 1) -> list[Any]:
    async def probe() -> list[TaskDueSoonV1] | None:
        found = reminders(watcher, case_id, reason)
        return found if len(found) >= count else None

    return await eventually(probe, timeout=30, what=f"{count} {reason} reminder(s) for {case_id}")


async def outbox_reminders(review: Review, case_id: uuid.UUID, reason: DueReason) -> int:
    [row] = await db_fetch(
        review,
        "SELECT count(*) AS n FROM outbox WHERE message_key = $1 AND event_type = $2 "
        "AND convert_from(payload, 'UTF8')::jsonb->'data'->>'reason' = $3",
        str(case_id),
        TaskDueSoonV1.event_type,
        reason.value,
    )
    return int(row["n"])


# --------------------------------------------------------------------------- the reviewer, recorded at claim


async def test_the_claim_records_the_reviewer_and_the_next_claim_replaces_them(review: Review) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim_as(
        review, case.case_id, user="r-riikka", name="Riikka Reviewer", email="riikka@example.org", lang="sv"
    )
    assert await recorded_reviewer(review, task["task_id"]) == (
        "r-riikka",
        "Riikka Reviewer",
        "riikka@example.org",
        "sv",
    )

    released = await review.client.post(f"/tasks/{task['task_id']}/release", headers=auth("reviewer", user="r-riikka"))
    assert released.status_code == 200
    assert await recorded_reviewer(review, task["task_id"]) == (None, None, None, None)

    again = await claim_as(review, case.case_id, user="r-sakari", name="Sakari", email="", lang="fi")
    assert again["task_id"] == task["task_id"]
    assert await recorded_reviewer(review, task["task_id"]) == ("r-sakari", "Sakari", None, "fi")


# --------------------------------------------------------------------------- reminders


async def test_the_holder_is_reminded_of_the_lease_once_per_claim(review: Review, review_events: TopicWatcher) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim_as(
        review, case.case_id, user="r-riikka", name="Riikka Reviewer", email="riikka@example.org", lang="sv"
    )
    # A fresh 30-minute lease is outside the 5-minute window: nothing yet.
    await rounds_done(review)
    assert await outbox_reminders(review, case.case_id, DueReason.LEASE) == 0

    expires = await set_lease(review, task["task_id"], timedelta(minutes=2))
    [reminder] = await reminded(review_events, case.case_id, DueReason.LEASE)  # sent by the background job
    assert reminder.reviewer == Person(
        user_id="r-riikka", name="Riikka Reviewer", email="riikka@example.org", language=Language.SV
    )
    assert reminder.task_id == uuid.UUID(task["task_id"]) and reminder.due_at == expires
    assert (reminder.case_id, reminder.call_id, reminder.iteration) == (case.case_id, case.call_id, 1)
    assert (reminder.case_title, reminder.call_title) == (case.title, case.call_title)

    # Later rounds, two at a time as two instances would run them, send no second one.
    await rounds_done(review)
    assert await outbox_reminders(review, case.case_id, DueReason.LEASE) == 1
    await review_events.caught_up()
    assert len(reminders(review_events, case.case_id, DueReason.LEASE)) == 1
    assert not reminders(review_events, case.case_id, DueReason.SLA)  # the iteration is due in 72 hours

    # The lease runs out; another reviewer claims the task: their new claim is reminded again, to them.
    await set_lease(review, task["task_id"], -timedelta(seconds=1))
    await rounds_done(review)
    assert await outbox_reminders(review, case.case_id, DueReason.LEASE) == 1  # an expired lease is not reminded
    again = await claim_as(review, case.case_id, user="r-sakari", name="Sakari", email="", lang="fi")
    assert again["task_id"] == task["task_id"]
    expires = await set_lease(review, task["task_id"], timedelta(minutes=1))
    [_, second] = await reminded(review_events, case.case_id, DueReason.LEASE, count=2)
    assert second.reviewer == Person(user_id="r-sakari", name="Sakari", email=None, language=Language.FI)
    assert second.due_at == expires


async def test_the_holder_is_reminded_of_the_sla_once_per_holder(review: Review, review_events: TopicWatcher) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim_as(review, case.case_id, user="r-tuula", name="Tuula", email="tuula@example.org", lang="fi")
    # Due within the day, but the claim has run out: not the reviewer's task any more, no reminder.
    due = await set_iteration_due(review, case.case_id, timedelta(hours=1))
    await set_lease(review, task["task_id"], -timedelta(seconds=1))
    await rounds_done(review)
    assert await outbox_reminders(review, case.case_id, DueReason.SLA) == 0

    task = await claim_as(review, case.case_id, user="r-tuula", name="Tuula", email="tuula@example.org", lang="fi")
    [reminder] = await reminded(review_events, case.case_id, DueReason.SLA)
    assert reminder.reviewer == Person(user_id="r-tuula", name="Tuula", email="tuula@example.org", language=Language.FI)
    assert reminder.due_at == due and reminder.task_id == uuid.UUID(task["task_id"])
    assert (reminder.case_title, reminder.call_title) == (case.title, case.call_title)

    # The same holder claiming the task again is not told again; another holder is.
    released = await review.client.post(f"/tasks/{task['task_id']}/release", headers=auth("reviewer", user="r-tuula"))
    assert released.status_code == 200
    await claim_as(review, case.case_id, user="r-tuula", name="Tuula", email="tuula@example.org", lang="fi")
    await rounds_done(review)
    assert await outbox_reminders(review, case.case_id, DueReason.SLA) == 1
    released = await review.client.post(f"/tasks/{task['task_id']}/release", headers=auth("reviewer", user="r-tuula"))
    assert released.status_code == 200
    await claim_as(review, case.case_id, user="r-ulla", name="Ulla", email="ulla@example.org", lang="en")
    [_, second] = await reminded(review_events, case.case_id, DueReason.SLA, count=2)
    assert second.reviewer.user_id == "r-ulla" and second.due_at == due
    await rounds_done(review)
    await review_events.caught_up()
    assert [r.reviewer.user_id for r in reminders(review_events, case.case_id, DueReason.SLA)] == ["r-tuula", "r-ulla"]
    assert not reminders(review_events, case.case_id, DueReason.LEASE)


async def test_two_instances_never_remind_of_the_same_task_twice(review: Review) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim_as(review, case.case_id, user="r-yrjo", name="Yrjö", email="yrjo@example.org", lang="fi")
    # Outside the background job's 5-minute window; inside the wider one these instances use.
    await set_lease(review, task["task_id"], timedelta(minutes=6))
    wider = ReminderWindows(lease=timedelta(minutes=7), sla=timedelta(0))
    runtime = runtime_of(review)

    first = runtime.unit_of_work(ReviewRepository, correlation_id=new_correlation_id())
    async with first:
        found = await first.repo.claim_task_to_remind(wider)
        assert found is not None and found[0].task_id == uuid.UUID(task["task_id"])
        # While the first instance is reminding, a second one's round passes the task by (and does not wait).
        await asyncio.wait_for(jobs.reminder_round(runtime, wider), timeout=30)
        assert await outbox_reminders(review, case.case_id, DueReason.LEASE) == 0
        # The first instance stops before committing: nothing of its reminder remains.
    assert await jobs.reminder_round(runtime, wider) >= 1
    assert await jobs.reminder_round(runtime, wider) == 0
    assert await outbox_reminders(review, case.case_id, DueReason.LEASE) == 1


# --------------------------------------------------------------------------- requested changes answered


async def request_changes(review: Review, task_id: str, *, user: str, items: list[str]) -> None:
    response = await decide(
        review,
        task_id,
        user=user,
        decision="request_changes",
        feedback=[{"checklist_item": item, "met": False, "comment": "missing"} for item in items],
    )
    assert response.status_code == 200, response.text


async def handled(review: Review, event: CloudEvent) -> None:
    async def probe() -> bool:
        return bool(await db_fetch(review, "SELECT 1 FROM inbox WHERE event_id = $1", event.id))

    await eventually(probe, timeout=30, what=f"event {event.id} handled")


async def test_a_revision_tells_the_reviewers_who_requested_changes(
    review: Review, review_events: TopicWatcher
) -> None:
    case = snapshot(reviewers=2)
    await submit(review, case)
    await open_tasks(review, case.case_id, count=2)
    first = await claim_as(review, case.case_id, user="r-vilja", name="Vilja", email="vilja@example.org", lang="fi")
    second = await claim_as(review, case.case_id, user="r-ville", name="Ville", email="", lang="sv")
    await request_changes(review, first["task_id"], user="r-vilja", items=["problem is evidenced", "users identified"])
    await request_changes(review, second["task_id"], user="r-ville", items=["value for the public is plausible"])
    [event] = await emitted(review_events, case.case_id, ChangesRequestedV1.event_type)
    evidence, users, value = (f.point_id for f in ChangesRequestedV1.model_validate(event.data).feedback)
    assert evidence and users and value

    revised = snapshot(case_id=case.case_id, call_id=case.call_id, revision=2, reviewers=2)
    await publish(review, CaseRevisedV1(case=revised, addressed_points=[evidence, value]), case.case_id)
    [event] = await emitted(review_events, case.case_id, ChangesAnsweredV1.event_type)
    answered = ChangesAnsweredV1.model_validate(event.data)
    assert answered.reviewers == [
        Person(user_id="r-vilja", name="Vilja", email="vilja@example.org", language=Language.FI),
        Person(user_id="r-ville", name="Ville", email=None, language=Language.SV),
    ]
    assert (answered.iteration, answered.revision) == (1, 2)
    assert answered.addressed_points == [evidence, value] and answered.open_points == 1
    assert (answered.case_title, answered.call_title) == (revised.title, revised.call_title)
    # In the revision's transaction, before the iteration it opens.
    [opened] = (await emitted(review_events, case.case_id, IterationOpenedV1.event_type, count=2))[1:]
    assert event.causationid == opened.causationid and event.correlationid == opened.correlationid

    # The same revision again, as a new event: it was answered already.
    again = await publish(review, CaseRevisedV1(case=revised, addressed_points=[evidence, value]), case.case_id)
    await handled(review, again)
    assert await outbox_count(review, case.case_id, ChangesAnsweredV1.event_type) == 1

    # A further revision while iteration 2 is open still answers iteration 1's changes. A reviewer whose contact
    # was never recorded (claimed before review recorded them) is named by their user id alone.
    await db_fetch(
        review,
        "UPDATE review_tasks SET reviewer_name = NULL, reviewer_email = NULL, reviewer_language = NULL "
        "WHERE case_id = $1 AND reviewer_id = 'r-ville'",
        case.case_id,
    )
    third = snapshot(case_id=case.case_id, call_id=case.call_id, revision=3, reviewers=2)
    await publish(review, CaseRevisedV1(case=third, addressed_points=[users]), case.case_id)
    [_, event] = await emitted(review_events, case.case_id, ChangesAnsweredV1.event_type, count=2)
    later = ChangesAnsweredV1.model_validate(event.data)
    assert (later.iteration, later.revision, later.addressed_points, later.open_points) == (1, 3, [users], 0)
    assert [p.user_id for p in later.reviewers] == ["r-vilja", "r-ville"]
    assert later.reviewers[1] == Person(user_id="r-ville")

    # Once iteration 2 settles otherwise, revisions answer nothing.
    await open_tasks(review, case.case_id, count=2, iteration=2)
    for user in ("r-wilma", "r-xavier"):
        claimed = await claim_as(review, case.case_id, user=user)
        response = await decide(review, claimed["task_id"], user=user, decision="advance")
        assert response.status_code == 200, response.text
    await emitted(review_events, case.case_id, StageAdvancedV1.event_type)
    fourth = await publish(
        review, CaseRevisedV1(case=snapshot(case_id=case.case_id, call_id=case.call_id, revision=4)), case.case_id
    )
    await handled(review, fourth)
    assert await outbox_count(review, case.case_id, ChangesAnsweredV1.event_type) == 2


async def test_a_revision_without_requested_changes_answers_nothing(
    review: Review, review_events: TopicWatcher
) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    revised = await publish(
        review, CaseRevisedV1(case=snapshot(case_id=case.case_id, call_id=case.call_id, revision=2)), case.case_id
    )
    await handled(review, revised)
    assert await outbox_count(review, case.case_id, ChangesAnsweredV1.event_type) == 0

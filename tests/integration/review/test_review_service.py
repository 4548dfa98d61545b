"""Review against the real Kafka broker and PostgreSQL: case events in, queue over HTTP, review events out.

Other engineers' tests write to kipina.intake.v1 at the same time, and this run's consumer reads the topic from
the start, so the review queue also holds foreign cases. Tests therefore filter by their own case ids and move
their own tasks to the front of the queue (``prioritise``) before claiming.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.review import jobs, workflow
from services.review.app import create
from services.review.repository import HeldTaskRow, ReviewRepository
from shared import topics
from shared.auth import Principal
from shared.events import (
    QUALITY_INNOVATION_AWARD_CRITERIA,
    CallAnnouncedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    ChangesRequestedV1,
    CloudEvent,
    Contact,
    IterationEscalatedV1,
    IterationOpenedV1,
    Organisation,
    StageAdvancedV1,
)
from shared.vocabulary import Category, IsoStage, Language, Role
from tests.support.harness import auth, eventually, running_app
from tests.support.infra import reset_database, unique_group
from tests.support.kafka import TopicWatcher, make_event, produce_event, watch

pytestmark = pytest.mark.integration

REVIEWER_ORG = "org-review-board"


@dataclass
class Review:
    client: httpx.AsyncClient
    db_url: str
    bootstrap: str


@pytest.fixture(scope="module")
async def review(infra_env: dict[str, str]) -> AsyncIterator[Review]:
    db_url = infra_env["KIPINA_REVIEW_DATABASE_URL"]
    await reset_database(db_url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIPINA_REVIEW_CONSUMER_GROUP", unique_group("review"))
        mp.setenv("KIPINA_REVIEW_ESCALATION_INTERVAL_S", "0.3")
        mp.setenv("KIPINA_LOG_LEVEL", "WARNING")
        app = create()
        async with running_app(app) as client:
            yield Review(client=client, db_url=db_url, bootstrap=infra_env["KIPINA_KAFKA_BOOTSTRAP"])


@pytest.fixture
async def review_events(review: Review) -> AsyncIterator[TopicWatcher]:
    async with watch(review.bootstrap, topics.REVIEW) as watcher:
        yield watcher


# --------------------------------------------------------------------------- helpers


def snapshot(
    *,
    case_id: uuid.UUID | None = None,
    org: str = "org-espoo",
    stage: IsoStage = IsoStage.OPPORTUNITY,
    reviewers: int = 1,
    revision: int = 1,
    call_id: uuid.UUID | None = None,
) -> CaseSnapshot:
    return CaseSnapshot(
        case_id=case_id or uuid.uuid4(),
        call_id=call_id or uuid.uuid4(),
        call_title="Quality Innovation Award 2026",
        revision=revision,
        reviewers_per_iteration=reviewers,
        title=f"Digital building permits r{revision}",
        summary="Building permits decided in a day instead of a month.",
        problem="Permits take weeks.",
        solution="An online service with automated checks.",
        organisation=Organisation(id=org, name="City of Espoo", business_id="0101263-6"),
        submitter_id="submitter-1",
        submitter=Contact(name="Sanna Submitter", email="sanna@example.org", language=Language.FI),
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        iso_stage=stage,
    )


async def publish(review: Review, payload: Any, case_id: uuid.UUID) -> CloudEvent:
    event = make_event(payload, service="intake", subject=str(case_id))
    await produce_event(review.bootstrap, event, topic=topics.INTAKE)
    return event


async def submit(review: Review, case: CaseSnapshot) -> None:
    await publish(review, CaseSubmittedV1(case=case), case.case_id)


async def emitted(watcher: TopicWatcher, case_id: uuid.UUID, event_type: str, *, count: int = 1) -> list[CloudEvent]:
    async def probe() -> list[CloudEvent] | None:
        found = watcher.events(subject=str(case_id), event_type=event_type)
        return found if len(found) >= count else None

    return await eventually(probe, timeout=30, what=f"{count} x {event_type} for {case_id}")


async def db_fetch(review: Review, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(review.db_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def outbox_count(review: Review, case_id: uuid.UUID, event_type: str) -> int:
    """How many events of ``event_type`` about the case review has committed to its outbox (published or not)."""
    [row] = await db_fetch(
        review,
        "SELECT count(*) AS n FROM outbox WHERE message_key = $1 AND event_type = $2",
        str(case_id),
        event_type,
    )
    return int(row["n"])


async def open_tasks(review: Review, case_id: uuid.UUID, *, count: int = 1, iteration: int = 1) -> list[Any]:
    async def probe() -> list[asyncpg.Record] | None:
        rows = await db_fetch(
            review,
            "SELECT * FROM review_tasks WHERE case_id = $1 AND iteration = $2 AND status = 'queued' ORDER BY slot",
            case_id,
            iteration,
        )
        return rows if len(rows) >= count else None

    return await eventually(probe, timeout=30, what=f"iteration {iteration} tasks of {case_id}")


_priority = itertools.count(1)


async def prioritise(review: Review, case_id: uuid.UUID) -> None:
    """Move this case's tasks ahead of everything else in the queue (the newest prioritised goes first)."""
    await db_fetch(
        review,
        "UPDATE review_tasks SET due_at = timestamptz '2000-01-01' - $2 * interval '1 day' WHERE case_id = $1",
        case_id,
        next(_priority),
    )


def reviewer(user: str, org: str = REVIEWER_ORG) -> dict[str, str]:
    return auth("reviewer", user=user, org=org)


async def claim(review: Review, case_id: uuid.UUID, *, user: str, org: str = REVIEWER_ORG) -> dict[str, Any]:
    await prioritise(review, case_id)
    response = await review.client.post("/tasks/claim", headers=reviewer(user, org))
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    assert task["case_id"] == str(case_id)
    return task


async def decide(review: Review, task_id: str, *, user: str, decision: str, **body: Any) -> httpx.Response:
    return await review.client.post(
        f"/tasks/{task_id}/decision",
        headers=reviewer(user),
        json={"decision": decision, "comment": body.pop("comment", f"{decision} by {user}"), **body},
    )


# --------------------------------------------------------------------------- the workflow


async def test_submitted_case_opens_iteration_one(review: Review, review_events: TopicWatcher) -> None:
    case = snapshot(stage=IsoStage.CONCEPT)
    await submit(review, case)

    [event] = await emitted(review_events, case.case_id, IterationOpenedV1.event_type)
    opened = IterationOpenedV1.model_validate(event.data)
    assert (opened.iteration, opened.revision, opened.stage) == (1, 1, IsoStage.CONCEPT)
    assert opened.call_id == case.call_id
    assert event.source == "/kipina/review"

    [task] = await open_tasks(review, case.case_id)
    assert task["status"] == "queued"
    hours = (task["due_at"] - task["created_at"]).total_seconds() / 3600
    assert 71.9 < hours < 72.1

    queue = await review.client.get("/queue?status=queued&limit=200", headers=auth("operator"))
    assert queue.status_code == 200
    body = queue.json()
    assert {"items", "limit", "offset", "total"} <= body.keys()
    iterations = await review.client.get(f"/cases/{case.case_id}/iterations", headers=reviewer("r-any"))
    assert iterations.status_code == 200
    assert iterations.json()["case_status"] == "in_review"
    [it] = iterations.json()["items"]
    assert it["iteration"] == 1 and it["status"] == "open" and it["decisions"][0]["status"] == "queued"


async def test_events_move_while_requests_hold_every_pooled_connection(
    review: Review, review_events: TopicWatcher
) -> None:
    """The consumer and the relay have connections of their own: a surge of requests holding the whole request pool
    (here: every connection of it taken and held) does not stop a submitted case from opening its iteration."""
    transport = review.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    runtime = transport.app.state.runtime  # type: ignore[attr-defined]
    held = [await runtime.pool.acquire() for _ in range(runtime.settings.db_pool_max)]
    try:
        assert runtime.pool.get_idle_size() == 0 and runtime.pool.get_size() == runtime.settings.db_pool_max
        case = snapshot()
        await submit(review, case)
        [opened] = await emitted(review_events, case.case_id, "kipina.review.iteration_opened.v1")
        assert opened.subject == str(case.case_id)
    finally:
        for connection in held:
            await runtime.pool.release(connection)


async def test_request_changes_then_revision_then_nominate(review: Review, review_events: TopicWatcher) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)

    task = await claim(review, case.case_id, user="r-anna")
    assert task["iteration"] == 1 and task["stage"] == "opportunity"
    assert "problem is evidenced" in task["checklist"]
    assert task["case"]["title"] == case.title and task["case"]["organisation_name"] == "City of Espoo"
    assert task["case"]["call_title"] == case.call_title and task["case"]["problem"] == case.problem
    assert task["lease_expires_at"]
    fetched = await review.client.get(f"/tasks/{task['task_id']}", headers=reviewer("r-anna"))
    assert fetched.status_code == 200 and fetched.json()["status"] == "claimed"

    response = await decide(
        review,
        task["task_id"],
        user="r-anna",
        decision="request_changes",
        comment="Show evidence of the problem.",
        feedback=[{"checklist_item": "problem is evidenced", "met": False, "comment": "no data"}],
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "request_changes"
    assert response.json()["case_status"] == "changes_requested"

    [event] = await emitted(review_events, case.case_id, ChangesRequestedV1.event_type)
    changes = ChangesRequestedV1.model_validate(event.data)
    assert changes.iteration == 1 and changes.reviewer_ids == ["r-anna"]
    assert changes.comment == "Show evidence of the problem."
    assert changes.feedback[0].checklist_item == "problem is evidenced" and changes.feedback[0].met is False

    # a second decision on the same task is refused
    again = await decide(review, task["task_id"], user="r-anna", decision="nominate")
    assert again.status_code == 409

    revised = snapshot(case_id=case.case_id, call_id=case.call_id, revision=2)
    await publish(review, CaseRevisedV1(case=revised, change_note="added evidence"), case.case_id)
    events = await emitted(review_events, case.case_id, IterationOpenedV1.event_type, count=2)
    second = IterationOpenedV1.model_validate(events[-1].data)
    assert (second.iteration, second.revision, second.stage) == (2, 2, IsoStage.OPPORTUNITY)

    await open_tasks(review, case.case_id, iteration=2)
    task2 = await claim(review, case.case_id, user="r-ben")
    assert task2["iteration"] == 2 and task2["case"]["revision"] == 2
    assert task2["case"]["title"] == revised.title
    response = await decide(review, task2["task_id"], user="r-ben", decision="nominate", comment="Strong case.")
    assert response.status_code == 200, response.text
    assert response.json()["case_status"] == "nominated"

    [event] = await emitted(review_events, case.case_id, CaseNominatedV1.event_type)
    nominated = CaseNominatedV1.model_validate(event.data)
    assert nominated.case_id == case.case_id and nominated.call_id == case.call_id
    assert nominated.call_title == case.call_title
    assert nominated.iteration == 2 and nominated.reviewer_ids == ["r-ben"]
    assert nominated.comment == "Strong case."
    assert nominated.title == revised.title and nominated.summary == revised.summary
    assert nominated.category is Category.PUBLIC_SECTOR and nominated.language is Language.FI
    assert (nominated.organisation_id, nominated.organisation_name) == ("org-espoo", "City of Espoo")
    assert nominated.stage is IsoStage.OPPORTUNITY
    assert event.correlationid == response.headers["X-Correlation-ID"]

    history = await review.client.get(f"/cases/{case.case_id}/iterations", headers=auth("operator"))
    body = history.json()
    assert body["case_status"] == "nominated" and body["total"] == 2
    assert [i["outcome"] for i in body["items"]] == ["request_changes", "nominate"]
    assert body["items"][0]["decisions"][0]["reviewer_id"] == "r-anna"
    assert body["items"][0]["decisions"][0]["feedback"][0]["met"] is False

    # a decided case takes no more decisions, and a late revision opens nothing
    await publish(review, CaseRevisedV1(case=snapshot(case_id=case.case_id, revision=3)), case.case_id)

    async def revision_recorded() -> bool:
        rows = await db_fetch(review, "SELECT revision FROM cases WHERE case_id = $1", case.case_id)
        return rows[0]["revision"] == 3

    await eventually(revision_recorded, what="revision 3 recorded")
    # The revision's transaction would have put the iteration's event in the outbox beside the new revision.
    assert await outbox_count(review, case.case_id, IterationOpenedV1.event_type) == 2
    assert len(review_events.events(subject=str(case.case_id), event_type=IterationOpenedV1.event_type)) == 2


async def test_advance_opens_an_iteration_at_the_next_stage(review: Review, review_events: TopicWatcher) -> None:
    case = snapshot(stage=IsoStage.SOLUTION)
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim(review, case.case_id, user="r-cecilia")
    response = await decide(review, task["task_id"], user="r-cecilia", decision="advance")
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "deployment" and response.json()["next_iteration"] == 2

    [event] = await emitted(review_events, case.case_id, StageAdvancedV1.event_type)
    advanced = StageAdvancedV1.model_validate(event.data)
    assert (advanced.from_stage, advanced.to_stage) == (IsoStage.SOLUTION, IsoStage.DEPLOYMENT)
    events = await emitted(review_events, case.case_id, IterationOpenedV1.event_type, count=2)
    assert IterationOpenedV1.model_validate(events[-1].data).stage is IsoStage.DEPLOYMENT

    await open_tasks(review, case.case_id, iteration=2)
    task2 = await claim(review, case.case_id, user="r-cecilia")
    assert task2["stage"] == "deployment" and "solution is in use" in task2["checklist"]
    beyond = await decide(review, task2["task_id"], user="r-cecilia", decision="advance")
    assert beyond.status_code == 409
    assert "last ISO 56002 stage" in beyond.json()["message"]
    # the refused decision changed nothing: the reviewer can still reject
    rejected = await decide(review, task2["task_id"], user="r-cecilia", decision="reject", comment="Not ready.")
    assert rejected.status_code == 200, rejected.text
    [event] = await emitted(review_events, case.case_id, CaseRejectedV1.event_type)
    assert CaseRejectedV1.model_validate(event.data).iteration == 2


async def test_four_eyes_needs_two_reviewers_and_the_more_cautious_wins(
    review: Review, review_events: TopicWatcher
) -> None:
    case = snapshot(reviewers=2)
    await submit(review, case)
    await open_tasks(review, case.case_id, count=2)

    first = await claim(review, case.case_id, user="r-dana")
    # the same reviewer never gets the iteration's second slot
    await prioritise(review, case.case_id)
    again = await review.client.post("/tasks/claim", headers=reviewer("r-dana"))
    assert again.status_code == 204 or again.json()["case_id"] != str(case.case_id)
    second = await claim(review, case.case_id, user="r-eero")
    assert first["task_id"] != second["task_id"]

    waiting = await decide(review, first["task_id"], user="r-dana", decision="nominate")
    assert waiting.status_code == 200
    assert waiting.json()["outcome"] is None and waiting.json()["case_status"] == "in_review"
    settled = await decide(review, second["task_id"], user="r-eero", decision="reject", comment="Out of scope.")
    assert settled.status_code == 200
    assert settled.json()["outcome"] == "reject" and settled.json()["case_status"] == "rejected"

    [event] = await emitted(review_events, case.case_id, CaseRejectedV1.event_type)
    rejected = CaseRejectedV1.model_validate(event.data)
    assert sorted(rejected.reviewer_ids) == ["r-dana", "r-eero"]
    assert rejected.comment == "Out of scope."
    assert not review_events.events(subject=str(case.case_id), event_type=CaseNominatedV1.event_type)


# --------------------------------------------------------------------------- the queue


async def test_expired_lease_returns_the_task_to_the_queue(review: Review) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim(review, case.case_id, user="r-frida")
    await db_fetch(
        review,
        "UPDATE review_tasks SET lease_expires_at = now() - interval '1 second' WHERE task_id = $1",
        uuid.UUID(task["task_id"]),
    )

    late = await decide(review, task["task_id"], user="r-frida", decision="nominate")
    assert late.status_code == 409 and "lease expired" in late.json()["message"]

    taken = await claim(review, case.case_id, user="r-gustav")
    assert taken["task_id"] == task["task_id"]
    # the first reviewer no longer holds it
    gone = await review.client.get(f"/tasks/{task['task_id']}", headers=reviewer("r-frida"))
    assert gone.status_code == 404
    not_yours = await decide(review, task["task_id"], user="r-frida", decision="nominate")
    assert not_yours.status_code == 404


async def test_a_tiny_lease_from_settings_expires(review: Review, monkeypatch: pytest.MonkeyPatch) -> None:
    # The lease length comes from KIPINA_REVIEW_LEASE_MINUTES; check the configured value is what claims use.
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    runtime = review.client._transport.app.state.runtime  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime.settings, "lease_minutes", 0.01)  # 0.6 s
    task = await claim(review, case.case_id, user="r-hanna")

    async def lease_expired() -> bool:
        listing = await review.client.get("/queue?status=claimed&limit=200", headers=auth("operator"))
        return any(t["task_id"] == task["task_id"] and t["lease_expired"] for t in listing.json()["items"])

    await eventually(lease_expired, what="the tiny lease expired")
    taken = await claim(review, case.case_id, user="r-ilkka")
    assert taken["task_id"] == task["task_id"]


async def test_release_returns_the_task(review: Review) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim(review, case.case_id, user="r-jussi")
    other = await review.client.post(f"/tasks/{task['task_id']}/release", headers=reviewer("r-kaisa"))
    assert other.status_code == 404
    released = await review.client.post(f"/tasks/{task['task_id']}/release", headers=reviewer("r-jussi"))
    assert released.status_code == 200 and released.json()["status"] == "queued"
    again = await claim(review, case.case_id, user="r-kaisa")
    assert again["task_id"] == task["task_id"]


async def held_by(review: Review, user: str) -> list[HeldTaskRow]:
    runtime = review.client._transport.app.state.runtime  # type: ignore[attr-defined]
    uow = runtime.unit_of_work(ReviewRepository, correlation_id="test-held-tasks")
    principal = Principal(user_id=user, roles=frozenset({Role.REVIEWER}), organisation_id=REVIEWER_ORG)
    return await workflow.held_tasks(uow=uow, reviewer=principal)


async def test_a_reviewer_holds_what_they_claimed_until_they_release_or_decide_it(review: Review) -> None:
    first, second = snapshot(stage=IsoStage.VALIDATION), snapshot()
    for case in (first, second):
        await submit(review, case)
        await open_tasks(review, case.case_id)
    assert await held_by(review, "r-held") == []
    one = await claim(review, first.case_id, user="r-held")
    two = await claim(review, second.case_id, user="r-held")
    await db_fetch(
        review,
        "UPDATE review_tasks SET due_at = now() + interval '1 day' WHERE task_id = $1",
        uuid.UUID(two["task_id"]),
    )
    await db_fetch(
        review,
        "UPDATE review_tasks SET due_at = now() + interval '2 days', lease_expires_at = now() - interval '1 second' "
        "WHERE task_id = $1",
        uuid.UUID(one["task_id"]),
    )

    held = await held_by(review, "r-held")
    # Due first; a lease that ran out is still on the list (nobody took the task since), marked as such.
    assert [(str(h.task_id), h.case_title, h.stage, h.iteration) for h in held] == [
        (two["task_id"], second.title, IsoStage.OPPORTUNITY, 1),
        (one["task_id"], first.title, IsoStage.VALIDATION, 1),
    ]
    assert [h.lease_expired for h in held] == [False, True]
    assert held[0].lease_expires_at > datetime.now(UTC) > held[1].lease_expires_at
    assert await held_by(review, "r-other") == []

    released = await review.client.post(f"/tasks/{two['task_id']}/release", headers=reviewer("r-held"))
    assert released.status_code == 200
    taken = await claim(review, first.case_id, user="r-other")
    assert taken["task_id"] == one["task_id"]
    assert await held_by(review, "r-held") == []
    assert [str(h.task_id) for h in await held_by(review, "r-other")] == [one["task_id"]]


async def test_reviewer_never_gets_a_case_of_their_own_organisation(review: Review) -> None:
    case = snapshot(org="org-vantaa")
    await submit(review, case)
    [task] = await open_tasks(review, case.case_id)
    await prioritise(review, case.case_id)
    # Drain everything this reviewer may take (foreign cases included): never this case, and finally 204.
    for _ in range(500):
        response = await review.client.post("/tasks/claim", headers=reviewer("r-own", org="org-vantaa"))
        if response.status_code == 204:
            break
        assert response.status_code == 200
        assert response.json()["case_id"] != str(case.case_id)
    else:
        pytest.fail("the queue never ran dry")
    assert response.status_code == 204 and response.content == b""
    # the case stays hidden from them, and another organisation's reviewer gets it
    hidden = await review.client.get(f"/cases/{case.case_id}/iterations", headers=reviewer("r-own", org="org-vantaa"))
    assert hidden.status_code == 404
    taken = await claim(review, case.case_id, user="r-outsider")
    assert taken["task_id"] == str(task["task_id"])


async def test_a_revision_never_changes_the_cases_organisation(review: Review) -> None:
    """The conflict rule relies on the organisation intake verified at submission; a revision keeps it."""
    case = snapshot(org="org-vantaa")
    await submit(review, case)
    await open_tasks(review, case.case_id)
    moved = snapshot(case_id=case.case_id, call_id=case.call_id, org="org-elsewhere", revision=2)
    await publish(review, CaseRevisedV1(case=moved, change_note="another organisation?"), case.case_id)

    async def revision_recorded() -> list[asyncpg.Record] | None:
        rows = await db_fetch(
            review, "SELECT revision, organisation_id, title FROM cases WHERE case_id = $1", case.case_id
        )
        return rows if rows[0]["revision"] == 2 else None

    [row] = await eventually(revision_recorded, what="revision 2 recorded")
    assert (row["title"], row["organisation_id"]) == (moved.title, "org-vantaa")
    # So the case stays hidden from its own organisation's reviewers.
    hidden = await review.client.get(f"/cases/{case.case_id}/iterations", headers=reviewer("r-own", org="org-vantaa"))
    assert hidden.status_code == 404


async def test_concurrent_claims_never_get_the_same_task(review: Review) -> None:
    cases = [snapshot() for _ in range(3)]
    for case in cases:
        await submit(review, case)
    for case in cases:
        await open_tasks(review, case.case_id)
        await prioritise(review, case.case_id)

    responses = await asyncio.gather(
        *(review.client.post("/tasks/claim", headers=reviewer(f"r-racer-{i}")) for i in range(6))
    )
    claimed = [r.json()["task_id"] for r in responses if r.status_code == 200]
    assert len(claimed) == len(set(claimed))
    mine = {str(c.case_id) for c in cases}
    assert mine <= {r.json()["case_id"] for r in responses if r.status_code == 200}


async def test_withdrawn_case_cancels_its_tasks(review: Review) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim(review, case.case_id, user="r-lauri")
    await publish(review, CaseWithdrawnV1(case_id=case.case_id, call_id=case.call_id, reason="merged"), case.case_id)

    async def withdrawn() -> bool:
        rows = await db_fetch(review, "SELECT status FROM cases WHERE case_id = $1", case.case_id)
        return bool(rows) and rows[0]["status"] == "withdrawn"

    await eventually(withdrawn, what="case withdrawn")
    response = await decide(review, task["task_id"], user="r-lauri", decision="nominate")
    assert response.status_code == 409
    history = await review.client.get(f"/cases/{case.case_id}/iterations", headers=auth("operator"))
    assert history.json()["items"][0]["status"] == "cancelled"


async def test_overdue_iteration_escalates_once(review: Review, review_events: TopicWatcher) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    await db_fetch(
        review, "UPDATE iterations SET due_at = now() - interval '1 minute' WHERE case_id = $1", case.case_id
    )
    [event] = await emitted(review_events, case.case_id, IterationEscalatedV1.event_type)
    escalated = IterationEscalatedV1.model_validate(event.data)
    assert escalated.iteration == 1 and escalated.call_id == case.call_id
    [first] = await db_fetch(review, "SELECT escalated_at FROM iterations WHERE case_id = $1", case.case_id)
    # Two more rounds of the job, run here so they surely happened: the iteration is not escalated again.
    runtime = review.client._transport.app.state.runtime  # type: ignore[attr-defined]
    for _ in range(2):
        await jobs.escalation_round(runtime)
    [later] = await db_fetch(review, "SELECT escalated_at FROM iterations WHERE case_id = $1", case.case_id)
    assert later["escalated_at"] == first["escalated_at"]
    assert await outbox_count(review, case.case_id, IterationEscalatedV1.event_type) == 1
    assert len(review_events.events(subject=str(case.case_id), event_type=IterationEscalatedV1.event_type)) == 1
    history = await review.client.get(f"/cases/{case.case_id}/iterations", headers=auth("operator"))
    assert history.json()["items"][0]["escalated_at"] is not None


# --------------------------------------------------------------------------- the door


async def test_authentication_and_roles(review: Review) -> None:
    client = review.client
    assert (await client.post("/tasks/claim")).status_code == 401
    assert (await client.get("/queue")).status_code == 401
    assert (await client.post("/tasks/claim", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await client.post("/tasks/claim", headers=auth("submitter"))).status_code == 403
    assert (await client.get("/queue", headers=reviewer("r-1"))).status_code == 403
    assert (await client.get(f"/cases/{uuid.uuid4()}/iterations", headers=auth("juror"))).status_code == 403
    assert (await client.get(f"/tasks/{uuid.uuid4()}", headers=auth("submitter"))).status_code == 403
    assert (await client.get(f"/tasks/{uuid.uuid4()}", headers=auth("operator"))).status_code == 404
    assert (await client.get(f"/cases/{uuid.uuid4()}/iterations", headers=auth("operator"))).status_code == 404
    assert (await client.get("/queue?limit=0", headers=auth("operator"))).status_code == 422
    assert (await client.get("/queue?status=bogus", headers=auth("operator"))).status_code == 422


async def test_bad_decision_bodies_are_422(review: Review) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim(review, case.case_id, user="r-mikko")
    url = f"/tasks/{task['task_id']}/decision"
    headers = reviewer("r-mikko")
    bad_bodies = [
        {"decision": "maybe", "comment": "hmm"},
        {"decision": "nominate", "comment": ""},
        {"decision": "nominate"},
        {"comment": "no decision"},
        {"decision": "nominate", "comment": "x" * 5001},
        {"decision": "nominate", "comment": "ok", "feedback": [{"checklist_item": "users identified"}]},
        {"decision": "nominate", "comment": "ok", "feedback": [{"checklist_item": "made up", "met": True}]},
    ]
    for body in bad_bodies:
        response = await review.client.post(url, headers=headers, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"] == "validation_failed" and response.json()["message"]
    not_json = await review.client.post(
        url,
        headers=headers,
        content=b"{",
    )
    assert not_json.status_code == 422
    bad_id = await review.client.post("/tasks/not-a-uuid/decision", headers=headers, json=bad_bodies[0])
    assert bad_id.status_code == 422
    # nothing was recorded: the task is still claimed and decidable
    ok = await decide(review, task["task_id"], user="r-mikko", decision="nominate")
    assert ok.status_code == 200, ok.text


# --------------------------------------------------------------------------- feedback points and who reads what


async def test_feedback_points_carry_over_to_the_next_reviewer_and_the_submitter_reads_them(
    review: Review, review_events: TopicWatcher
) -> None:
    case = snapshot()
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim(review, case.case_id, user="r-pia")
    assert task["earlier_iterations"] == [] and task["points"] == [] and task["revisions"] == []
    response = await decide(
        review,
        task["task_id"],
        user="r-pia",
        decision="request_changes",
        comment="Evidence and users are missing.",
        feedback=[
            {"checklist_item": "problem is evidenced", "met": False, "comment": "no data"},
            {"checklist_item": "opportunity fits the call", "met": True},
            {"checklist_item": "users identified", "met": False, "comment": "who uses it?"},
        ],
    )
    assert response.status_code == 200, response.text

    [event] = await emitted(review_events, case.case_id, ChangesRequestedV1.event_type)
    feedback = ChangesRequestedV1.model_validate(event.data).feedback
    evidence, met, users = (f.point_id for f in feedback)
    assert evidence is not None and users is not None and met is None and evidence != users

    # The case's own submitter reads the iteration's reasons and typed feedback, not who decided what.
    own = auth("submitter", user=case.submitter_id, org="org-espoo")
    history = await review.client.get(f"/cases/{case.case_id}/iterations", headers=own)
    assert history.status_code == 200, history.text
    [first] = history.json()["items"]
    assert first["decisions"] == [] and first["comment"] == "Evidence and users are missing."
    assert [(f["checklist_item"], f["point_id"], f["status"]) for f in first["feedback"]] == [
        ("problem is evidenced", str(evidence), "open"),
        ("opportunity fits the call", None, None),
        ("users identified", str(users), "open"),
    ]
    assert [p["point_id"] for p in history.json()["points"]] == [str(evidence), str(users)]
    # Anyone else is told the case does not exist; a juror has no business here at all.
    stranger = auth("submitter", user="someone-else", org="org-espoo")
    assert (await review.client.get(f"/cases/{case.case_id}/iterations", headers=stranger)).status_code == 404
    assert (await review.client.get(f"/cases/{case.case_id}/iterations", headers=auth("juror"))).status_code == 403

    # The revision addresses the evidence point; iteration 2 opens and its reviewer reads what came before.
    revised = snapshot(case_id=case.case_id, call_id=case.call_id, revision=2)
    await publish(
        review, CaseRevisedV1(case=revised, change_note="added statistics", addressed_points=[evidence]), case.case_id
    )
    await open_tasks(review, case.case_id, iteration=2)
    task2 = await claim(review, case.case_id, user="r-quentin")
    assert task2["iteration"] == 2
    [earlier] = task2["earlier_iterations"]
    assert earlier["iteration"] == 1 and earlier["decisions"][0]["reviewer_id"] == "r-pia"
    assert [(f["point_id"], f["status"], f["addressed_in_revision"]) for f in earlier["feedback"]] == [
        (str(evidence), "addressed", 2),
        (None, None, None),
        (str(users), "open", None),
    ]
    assert [(p["checklist_item"], p["status"], p["addressed_in_revision"]) for p in task2["points"]] == [
        ("problem is evidenced", "addressed", 2),
        ("users identified", "open", None),
    ]
    [note] = task2["revisions"]
    assert (note["revision"], note["change_note"], note["addressed_points"]) == (2, "added statistics", [str(evidence)])
    fetched = await review.client.get(f"/tasks/{task2['task_id']}", headers=reviewer("r-quentin"))
    assert fetched.json()["points"] == task2["points"]
    # A task's brief is what came before it: the decided first task has none.
    old = (await review.client.get(f"/tasks/{task['task_id']}", headers=auth("operator"))).json()
    assert (old["earlier_iterations"], old["points"], old["revisions"][0]["revision"]) == ([], [], 2)

    # The submitter sees the same states; operators also see who decided.
    states = (await review.client.get(f"/cases/{case.case_id}/iterations", headers=own)).json()["points"]
    assert [p["status"] for p in states] == ["addressed", "open"]
    operator = (await review.client.get(f"/cases/{case.case_id}/iterations", headers=auth("operator"))).json()
    assert operator["items"][0]["decisions"][0]["reviewer_id"] == "r-pia"
    assert operator["revisions"][0]["addressed_points"] == [str(evidence)]


async def test_a_four_eyes_reviewer_never_sees_the_other_slot_of_the_same_iteration(review: Review) -> None:
    case = snapshot(reviewers=2)
    await submit(review, case)
    await open_tasks(review, case.case_id, count=2)
    first = await claim(review, case.case_id, user="r-rauni")
    decided = await decide(
        review,
        first["task_id"],
        user="r-rauni",
        decision="request_changes",
        feedback=[{"checklist_item": "users identified", "met": False}],
    )
    assert decided.status_code == 200 and decided.json()["outcome"] is None
    second = await claim(review, case.case_id, user="r-sami")
    assert second["earlier_iterations"] == [] and second["points"] == []
    # Nor does the submitter, until the iteration settles.
    own = auth("submitter", user=case.submitter_id, org="org-espoo")
    [waiting] = (await review.client.get(f"/cases/{case.case_id}/iterations", headers=own)).json()["items"]
    assert (waiting["comment"], waiting["feedback"], waiting["decisions"]) == ("", [], [])


# --------------------------------------------------------------------------- calls


def call_announcement(call_id: uuid.UUID, *, revision: int) -> CallAnnouncedV1:
    opens_at = datetime(2026, 1, 1, tzinfo=UTC)
    return CallAnnouncedV1(
        call_id=call_id,
        revision=revision,
        title=f"Idea competition (revision {revision})",
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=30 * revision),
        categories=[Category.PUBLIC_SECTOR],
        languages=[Language.FI],
        reviewers_per_iteration=1,
        criteria=list(QUALITY_INNOVATION_AWARD_CRITERIA),
    )


async def announce(review: Review, announcement: CallAnnouncedV1) -> None:
    """Announce a call as intake would, and wait until review's consumer has handled it."""
    event = await publish(review, announcement, announcement.call_id)

    async def handled() -> bool:
        return bool(await db_fetch(review, "SELECT 1 FROM inbox WHERE event_id = $1", event.id))

    await eventually(handled, timeout=30, what=f"call announcement {event.id} handled")


async def test_a_task_shows_its_call_as_last_announced(review: Review) -> None:
    call_id = uuid.uuid4()
    await announce(review, call_announcement(call_id, revision=2))
    await announce(review, call_announcement(call_id, revision=1))  # late: older than what review knows

    case = snapshot(call_id=call_id)
    await submit(review, case)
    await open_tasks(review, case.case_id)
    task = await claim(review, case.case_id, user="r-calls")
    assert task["case"]["call"] == {
        "call_id": str(call_id),
        "revision": 2,
        "title": "Idea competition (revision 2)",
        "opens_at": "2026-01-01T00:00:00Z",
        "closes_at": "2026-03-02T00:00:00Z",
        "reviewers_per_iteration": 1,
    }

    await announce(review, call_announcement(call_id, revision=3))
    fetched = (await review.client.get(f"/tasks/{task['task_id']}", headers=reviewer("r-calls"))).json()
    assert fetched["case"]["call"]["revision"] == 3
    assert fetched["case"]["call"]["closes_at"] == "2026-04-01T00:00:00Z"

    # A case whose call review has not learned yet is reviewed all the same; its task shows no call.
    stranger = snapshot()
    await submit(review, stranger)
    await open_tasks(review, stranger.case_id)
    task = await claim(review, stranger.case_id, user="r-calls-2")
    assert task["case"]["call"] is None and task["case"]["call_title"] == stranger.call_title

"""What awards tells jurors and operators, against the real Kafka broker and PostgreSQL: the jurors assigned
(JurorsAssignedV1), the reminders of scores due (ScoringDueV1), a call's evaluation complete
(EvaluationCompleteV1) and who scored a decided case (AwardDecidedV1.scored_by)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from services.awards import jobs
from shared import topics
from shared.events import CaseWithdrawnV1, CloudEvent
from shared.runtime import Runtime
from tests.integration.awards.test_awards import (
    OPERATOR,
    announce,
    db_value,
    handled,
    juror,
    nominate,
    score_body,
)
from tests.support.harness import eventually, running_app
from tests.support.infra import reset_database, unique_group
from tests.support.kafka import TopicWatcher, make_event, produce_event, watch

pytestmark = pytest.mark.integration

# Fractions of a day are allowed: 10.5 days is what a juror gets when the jury sets no deadline.
SCORING_PERIOD = timedelta(days=10.5)
REMINDER_LEAD = timedelta(days=3)  # KIPINA_AWARDS_SCORING_REMINDER_DAYS' default
HELSINKI = timezone(timedelta(hours=2))

JURORS_ASSIGNED = "kipina.award.jurors_assigned.v1"
SCORING_DUE = "kipina.award.scoring_due.v1"
EVALUATION_COMPLETE = "kipina.award.evaluation_complete.v1"
DECIDED = "kipina.award.decided.v1"


@dataclass
class Awards:
    http: httpx.AsyncClient
    runtime: Runtime


@pytest.fixture(scope="module")
async def awards(infra_env: dict[str, str]) -> AsyncIterator[Awards]:
    await reset_database(infra_env["KIPINA_AWARDS_DATABASE_URL"])
    env = {
        "KIPINA_AWARDS_CONSUMER_GROUP": unique_group("awards"),
        "KIPINA_AWARDS_SCORING_PERIOD_DAYS": "10.5",
        "KIPINA_AWARDS_SCORING_REMINDER_INTERVAL_S": "0.1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from services.awards.app import create

    try:
        app = create()
        async with running_app(app) as http:
            yield Awards(http, app.state.runtime)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def bootstrap(infra_env: dict[str, str]) -> str:
    return infra_env["KIPINA_KAFKA_BOOTSTRAP"]


def member(user_id: str, *, language: str | None = None, email: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user_id, "name": f"Juror {user_id}", "organisation_id": f"org-of-{user_id}"}
    if language is not None:
        body["language"] = language
    if email is not None:
        body["email"] = email
    return body


def person(user_id: str, *, language: str = "en", email: str | None = None) -> dict[str, Any]:
    """The Person an event carries for a juror of ``member``'s making."""
    return {"user_id": user_id, "name": f"Juror {user_id}", "email": email, "language": language}


async def put_jury(
    awards: Awards, call_id: uuid.UUID, jurors: list[dict[str, Any]], *, k: int = 2, due: datetime | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"jurors": jurors, "jurors_per_case": k}
    if due is not None:
        body["scoring_due_at"] = due.isoformat()
    response = await awards.http.put(f"/calls/{call_id}/jury", json=body, headers=OPERATOR)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def score(awards: Awards, case_id: uuid.UUID, who: str, value: int = 3) -> None:
    response = await awards.http.put(f"/evaluations/{case_id}/scores", json=score_body(value), headers=juror(who))
    assert response.status_code == 200, response.text


async def events_of(watcher: TopicWatcher, event_type: str, *, subject: uuid.UUID, count: int) -> list[CloudEvent]:
    """Wait until ``count`` events of the type about ``subject`` are on the topic; returns them in order."""

    async def arrived() -> list[CloudEvent] | None:
        found = watcher.events(subject=str(subject), event_type=event_type)
        return found if len(found) >= count else None

    found = await eventually(arrived, timeout=60, what=f"{count} × {event_type} about {subject}")
    return found


async def emitted(event_type: str, *, subject: uuid.UUID) -> int:
    """How many such events awards emitted: its outbox, which commits with the change that emitted them."""
    return int(
        await db_value(
            "SELECT count(*) FROM outbox WHERE message_key = $1 AND event_type = $2", str(subject), event_type
        )
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- the jury's new fields


async def test_the_jury_takes_each_jurors_language_and_an_aware_scoring_deadline(
    awards: Awards, bootstrap: str
) -> None:
    call_id, _ = await announce(bootstrap)
    due = datetime(2027, 3, 31, 16, 0, tzinfo=HELSINKI)
    jury = await put_jury(awards, call_id, [member("l-fi", language="fi"), member("l-en")], due=due)
    assert [(j["user_id"], j["language"]) for j in jury["jurors"]] == [("l-fi", "fi"), ("l-en", "en")]
    assert at(jury["scoring_due_at"]) == due
    read = (await awards.http.get(f"/calls/{call_id}/jury", headers=OPERATOR)).json()
    assert [j["language"] for j in read["jurors"]] == ["fi", "en"] and at(read["scoring_due_at"]) == due

    naive = {"jurors": [member("l-fi")], "scoring_due_at": "2027-03-31T16:00:00"}
    response = await awards.http.put(f"/calls/{call_id}/jury", json=naive, headers=OPERATOR)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["problems"]
    assert problem["field"] == "scoring_due_at" and "timezone" in problem["problem"], problem
    overflowing = {"jurors": [member("l-fi")], "scoring_due_at": "0001-01-01T00:00:00+01:00"}
    response = await awards.http.put(f"/calls/{call_id}/jury", json=overflowing, headers=OPERATOR)
    assert response.status_code == 422 and "out of range" in response.json()["message"], response.text
    unknown_language = {"jurors": [member("l-fi", language="de")]}
    response = await awards.http.put(f"/calls/{call_id}/jury", json=unknown_language, headers=OPERATOR)
    assert response.status_code == 422 and response.json()["problems"][0]["field"] == "jurors.0.language"
    # Refused bodies changed nothing; a panel without a deadline has none.
    assert at((await awards.http.get(f"/calls/{call_id}/jury", headers=OPERATOR)).json()["scoring_due_at"]) == due
    assert (await put_jury(awards, call_id, [member("l-fi")]))["scoring_due_at"] is None


# --------------------------------------------------------------------------- JurorsAssignedV1


async def test_a_nomination_tells_its_jurors_with_the_calls_deadline_or_their_scoring_period(
    awards: Awards, bootstrap: str
) -> None:
    with_deadline, _ = await announce(bootstrap)
    without_deadline, _ = await announce(bootstrap)
    due = datetime.now(UTC).replace(microsecond=0).astimezone(HELSINKI) + timedelta(days=60)
    panel = [member("a-fi", language="fi", email="a-fi@example.org"), member("a-sv", language="sv"), member("a-en")]
    await put_jury(awards, with_deadline, panel, due=due)
    await put_jury(awards, without_deadline, panel)

    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        case_id, evaluation = await nominate(
            awards.http, bootstrap, with_deadline, org="org-x", title="Digital permits"
        )
        assert [j["juror_id"] for j in evaluation["jurors"]] == ["a-fi", "a-sv"]
        (assigned,) = await events_of(awards_topic, JURORS_ASSIGNED, subject=case_id, count=1)
        # The evaluation is announced first, then its jurors are told.
        assert [e.type for e in awards_topic.events(subject=str(case_id))] == [
            "kipina.award.evaluation_opened.v1",
            JURORS_ASSIGNED,
        ]
        assert assigned.data == {
            "case_id": str(case_id),
            "call_id": str(with_deadline),
            "case_title": "Digital permits",
            "call_title": "Quality Innovation Award 2026",
            "jurors": [person("a-fi", language="fi", email="a-fi@example.org"), person("a-sv", language="sv")],
            "scoring_due_at": assigned.data["scoring_due_at"],
        }
        assert at(assigned.data["scoring_due_at"]) == due
        # The juror reads the deadline with the case.
        mine = (await awards.http.get(f"/assignments/{case_id}", headers=juror("a-sv"))).json()
        assert at(mine["scoring_due_at"]) == due

        # Without the call's deadline: the scoring period from the assignment (10.5 days here).
        other, _ = await nominate(awards.http, bootstrap, without_deadline, org="org-x", title="Open data")
        (told,) = await events_of(awards_topic, JURORS_ASSIGNED, subject=other, count=1)
        mine = (await awards.http.get(f"/assignments/{other}", headers=juror("a-fi"))).json()
        assert at(mine["scoring_due_at"]) == at(mine["assigned_at"]) + SCORING_PERIOD
        assert at(told.data["scoring_due_at"]) == at(mine["scoring_due_at"])
        assert [p["user_id"] for p in told.data["jurors"]] == ["a-fi", "a-sv"]
    assert await emitted(JURORS_ASSIGNED, subject=case_id) == 1


async def test_a_recusal_or_a_jury_change_tells_only_the_jurors_newly_assigned(awards: Awards, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    panel = [member("r-1"), member("r-2"), member("r-3", language="fi", email="r-3@example.org")]
    await put_jury(awards, call_id, panel)
    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        case_id, _ = await nominate(awards.http, bootstrap, call_id, org="org-x")
        (first,) = await events_of(awards_topic, JURORS_ASSIGNED, subject=case_id, count=1)
        assert [p["user_id"] for p in first.data["jurors"]] == ["r-1", "r-2"]

        response = await awards.http.post(
            f"/evaluations/{case_id}/conflict", json={"reason": "my former employer"}, headers=juror("r-2")
        )
        assert response.status_code == 200 and response.json()["replacement_assigned"] is True
        _, replacement = await events_of(awards_topic, JURORS_ASSIGNED, subject=case_id, count=2)
        assert replacement.data["jurors"] == [person("r-3", language="fi", email="r-3@example.org")]
        mine = (await awards.http.get(f"/assignments/{case_id}", headers=juror("r-3"))).json()
        assert at(replacement.data["scoring_due_at"]) == at(mine["scoring_due_at"])
        assert at(mine["scoring_due_at"]) == at(mine["assigned_at"]) + SCORING_PERIOD  # a whole period of their own

        # A bigger panel and k: only the juror added to the case is told (r-2 recused, the others were told).
        jury = await put_jury(awards, call_id, [*panel, member("r-4", language="sv")], k=3)
        assert jury["assignments_added"] == 1
        _, _, added = await events_of(awards_topic, JURORS_ASSIGNED, subject=case_id, count=3)
        assert added.data["jurors"] == [person("r-4", language="sv")]
        # Setting the same panel again assigns nobody and tells nobody.
        await put_jury(awards, call_id, [*panel, member("r-4", language="sv")], k=3)
    assert await emitted(JURORS_ASSIGNED, subject=case_id) == 3


# --------------------------------------------------------------------------- ScoringDueV1


async def test_each_juror_who_has_not_scored_is_reminded_once(awards: Awards, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    panel = [member("u-1"), member("u-2", language="fi", email="u-2@example.org")]
    far = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    await put_jury(awards, call_id, panel, due=far)
    cases = [(await nominate(awards.http, bootstrap, call_id, org="org-x", title=f"Case {i}"))[0] for i in range(3)]
    withdrawn, _ = await nominate(awards.http, bootstrap, call_id, org="org-x", title="Withdrawn")
    for case_id in cases:
        await score(awards, case_id, "u-1")
    withdrawal = make_event(
        CaseWithdrawnV1(case_id=withdrawn, call_id=call_id), service="intake", subject=str(withdrawn)
    )
    await produce_event(bootstrap, withdrawal, topic=topics.INTAKE)
    await handled(withdrawal)
    # Nothing is due 60 days ahead: a whole round of the job reminds nobody of this call.
    await jobs.reminder_round(awards.runtime)
    for case_id in (*cases, withdrawn):
        assert await emitted(SCORING_DUE, subject=case_id) == 0

    # The deadline moves to tomorrow, within the 3 days' lead: every open assignment takes it, and u-2, who has not
    # scored, is reminded of each case once, while the job and three more rounds (as if other instances) race.
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    # A withdrawn case keeps its assignments and their deadline (a changed deadline moves only open ones'): let that
    # come too, as time would. Its jurors are never reminded.
    await db_value("UPDATE assignments SET scoring_due_at = $2 WHERE case_id = $1", withdrawn, soon)
    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        await put_jury(awards, call_id, panel, due=soon)
        await asyncio.gather(*(jobs.reminder_round(awards.runtime) for _ in range(3)))
        for case_id in cases:
            (reminder,) = await events_of(awards_topic, SCORING_DUE, subject=case_id, count=1)
            assert reminder.data == {
                "case_id": str(case_id),
                "call_id": str(call_id),
                "case_title": reminder.data["case_title"],
                "call_title": "Quality Innovation Award 2026",
                "juror": person("u-2", language="fi", email="u-2@example.org"),
                "due_at": reminder.data["due_at"],
            }
            assert reminder.data["case_title"].startswith("Case ") and at(reminder.data["due_at"]) == soon
        # Two more rounds, run here so they surely happened after the reminders: nobody is reminded again.
        assert await jobs.reminder_round(awards.runtime) == 0
        assert await jobs.reminder_round(awards.runtime) == 0
    for case_id in cases:
        assert await emitted(SCORING_DUE, subject=case_id) == 1
        reminded = {
            juror_id: await db_value(
                "SELECT reminded_at IS NOT NULL FROM assignments WHERE case_id = $1 AND juror_id = $2",
                case_id,
                juror_id,
            )
            for juror_id in ("u-1", "u-2")
        }
        assert reminded == {"u-1": False, "u-2": True}
        mine = (await awards.http.get(f"/assignments/{case_id}", headers=juror("u-1"))).json()
        assert at(mine["scoring_due_at"]) == soon  # the scorer's deadline moved too; they are not reminded
    assert await emitted(SCORING_DUE, subject=withdrawn) == 0


# --------------------------------------------------------------------------- EvaluationCompleteV1


async def test_a_calls_evaluation_complete_is_told_once_per_completion(awards: Awards, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    await put_jury(awards, call_id, [member("c-1"), member("c-2")])
    first, _ = await nominate(awards.http, bootstrap, call_id, org="org-x", title="First")
    second, _ = await nominate(awards.http, bootstrap, call_id, org="org-y", title="Second")
    await score(awards, first, "c-1")
    await score(awards, second, "c-1")
    assert await emitted(EVALUATION_COMPLETE, subject=call_id) == 0

    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        # The last two scores at once: the one that takes the call's lock second sees both and tells.
        await asyncio.gather(score(awards, first, "c-2"), score(awards, second, "c-2"))
        (complete,) = await events_of(awards_topic, EVALUATION_COMPLETE, subject=call_id, count=1)
        assert complete.data == {
            "call_id": str(call_id),
            "call_title": "Quality Innovation Award 2026 (revision 1)",
            "cases": 2,
        }
        assert complete.subject == str(call_id)
        await score(awards, first, "c-2", value=4)  # a changed score: complete already, nothing new
        assert await emitted(EVALUATION_COMPLETE, subject=call_id) == 1

        # A late nomination makes the call incomplete; once it is scored, the call is complete again.
        late, _ = await nominate(awards.http, bootstrap, call_id, org="org-z", title="Late")
        await score(awards, late, "c-1")
        assert await emitted(EVALUATION_COMPLETE, subject=call_id) == 1
        await score(awards, late, "c-2")
        _, again = await events_of(awards_topic, EVALUATION_COMPLETE, subject=call_id, count=2)
        assert again.data["cases"] == 3

        # A decided case is no longer waiting; the next nomination's withdrawal completes the call once more.
        decision = {"outcome": "finalist", "feedback": "A strong case."}
        response = await awards.http.post(f"/evaluations/{first}/decision", json=decision, headers=OPERATOR)
        assert response.status_code == 200, response.text
        withdrawn, _ = await nominate(awards.http, bootstrap, call_id, org="org-w", title="Withdrawn")
        withdrawal = make_event(
            CaseWithdrawnV1(case_id=withdrawn, call_id=call_id), service="intake", subject=str(withdrawn)
        )
        await produce_event(bootstrap, withdrawal, topic=topics.INTAKE)
        _, _, third = await events_of(awards_topic, EVALUATION_COMPLETE, subject=call_id, count=3)
        assert third.data["cases"] == 2  # second and late
    assert await emitted(EVALUATION_COMPLETE, subject=call_id) == 3


async def test_a_recusal_without_replacement_can_complete_the_call(awards: Awards, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    await put_jury(awards, call_id, [member("x-1"), member("x-2")])
    case_id, _ = await nominate(awards.http, bootstrap, call_id, org="org-x")
    await score(awards, case_id, "x-1")
    assert await emitted(EVALUATION_COMPLETE, subject=call_id) == 0
    # x-2 recuses and nobody can replace them: x-1's scores are all the case waits for.
    response = await awards.http.post(
        f"/evaluations/{case_id}/conflict", json={"reason": "a friend"}, headers=juror("x-2")
    )
    assert response.status_code == 200 and response.json()["replacement_assigned"] is False
    assert await emitted(EVALUATION_COMPLETE, subject=call_id) == 1


# --------------------------------------------------------------------------- AwardDecidedV1.scored_by


async def test_a_decision_names_the_jurors_who_scored_it(awards: Awards, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    panel = [member("d-1", language="fi", email="d-1@example.org"), member("d-2", language="sv")]
    await put_jury(awards, call_id, panel)
    case_id, _ = await nominate(awards.http, bootstrap, call_id, org="org-x")
    await score(awards, case_id, "d-1", 4)
    await score(awards, case_id, "d-2", 5)
    decision = {"outcome": "award_winner", "feedback": "Outstanding."}
    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        response = await awards.http.post(f"/evaluations/{case_id}/decision", json=decision, headers=OPERATOR)
        assert response.status_code == 200, response.text
        (decided,) = await events_of(awards_topic, DECIDED, subject=case_id, count=1)
        assert sorted(decided.data["scored_by"], key=lambda p: p["user_id"]) == [
            person("d-1", language="fi", email="d-1@example.org"),
            person("d-2", language="sv"),
        ]
        # d-2 leaves the panel (keeping the assignment); the re-decision still names them, by user id only.
        await put_jury(awards, call_id, panel[:1], k=1)
        again = {"outcome": "prize_winner", "feedback": "On reflection."}
        response = await awards.http.post(f"/evaluations/{case_id}/decision", json=again, headers=OPERATOR)
        assert response.status_code == 200, response.text
        _, redecided = await events_of(awards_topic, DECIDED, subject=case_id, count=2)
        assert sorted(redecided.data["scored_by"], key=lambda p: p["user_id"]) == [
            person("d-1", language="fi", email="d-1@example.org"),
            {"user_id": "d-2", "name": "", "email": None, "language": "en"},
        ]

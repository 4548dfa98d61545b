"""Awards against the real Kafka broker and PostgreSQL: nomination → evaluation → scores → decision → results."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared import topics
from shared.events import (
    QUALITY_INNOVATION_AWARD_CRITERIA,
    CallAnnouncedV1,
    CaseNominatedV1,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    ChangesRequestedV1,
    CloudEvent,
    Contact,
    Criterion,
    FeedbackItem,
    IterationOpenedV1,
    Organisation,
)
from shared.vocabulary import Category, IsoStage, Language
from tests.support.harness import auth, eventually, running_app
from tests.support.infra import reset_database, unique_group
from tests.support.kafka import make_event, produce_event, watch

pytestmark = pytest.mark.integration

OPERATOR = auth("operator", user="op-1", org="org-kipina")
DEFAULT_KEYS = ["novelty", "usefulness", "learning", "customer_orientation", "effectiveness"]


@pytest.fixture(scope="module")
async def client(infra_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    await reset_database(infra_env["KIPINA_AWARDS_DATABASE_URL"])
    saved = os.environ.get("KIPINA_AWARDS_CONSUMER_GROUP")
    os.environ["KIPINA_AWARDS_CONSUMER_GROUP"] = unique_group("awards")
    from services.awards.app import create

    try:
        async with running_app(create()) as http:
            yield http
    finally:
        if saved is None:
            os.environ.pop("KIPINA_AWARDS_CONSUMER_GROUP", None)
        else:
            os.environ["KIPINA_AWARDS_CONSUMER_GROUP"] = saved


@pytest.fixture
def bootstrap(infra_env: dict[str, str]) -> str:
    return infra_env["KIPINA_KAFKA_BOOTSTRAP"]


async def db_value(query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(os.environ["KIPINA_AWARDS_DATABASE_URL"])
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def juror(user_id: str) -> dict[str, str]:
    return auth("juror", user=user_id, org=f"org-of-{user_id}")


def announcement(
    call_id: uuid.UUID, *, revision: int = 1, criteria: Sequence[Criterion] = QUALITY_INNOVATION_AWARD_CRITERIA
) -> CloudEvent:
    now = datetime.now(UTC)
    payload = CallAnnouncedV1(
        call_id=call_id,
        revision=revision,
        title=f"Quality Innovation Award 2026 (revision {revision})",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30 + revision),
        categories=[Category.PUBLIC_SECTOR, Category.EDUCATION],
        languages=[Language.FI, Language.EN],
        reviewers_per_iteration=1,
        criteria=list(criteria),
    )
    return make_event(payload, service="intake", subject=str(call_id))


async def handled(event: CloudEvent) -> None:
    """Wait until awards' consumer has handled the event (its inbox row commits with whatever it changed)."""

    async def seen() -> bool:
        return bool(await db_value("SELECT 1 FROM inbox WHERE event_id = $1", event.id))

    await eventually(seen, timeout=60, what=f"{event.type} {event.id} handled")


async def announce(bootstrap: str, call_id: uuid.UUID | None = None, **kwargs: Any) -> tuple[uuid.UUID, CloudEvent]:
    """Announce a call as intake would, and wait until awards has learned it."""
    call_id = call_id or uuid.uuid4()
    event = announcement(call_id, **kwargs)
    await produce_event(bootstrap, event, topic=topics.INTAKE)
    await handled(event)
    return call_id, event


def nomination(case_id: uuid.UUID, call_id: uuid.UUID, *, org: str, category: Category, title: str) -> CloudEvent:
    payload = CaseNominatedV1(
        case_id=case_id,
        call_id=call_id,
        call_title="Quality Innovation Award 2026",
        iteration=2,
        reviewer_ids=["rev-1"],
        comment="ready for the jury",
        title=title,
        summary="A summary of the case",
        category=category,
        language=Language.FI,
        organisation_id=org,
        organisation_name=f"Organisation {org}",
        stage=IsoStage.VALIDATION,
    )
    return make_event(payload, service="review", subject=str(case_id))


async def nominate(
    client: httpx.AsyncClient,
    bootstrap: str,
    call_id: uuid.UUID,
    *,
    org: str,
    category: Category = Category.PUBLIC_SECTOR,
    title: str = "Digital permits",
) -> tuple[uuid.UUID, dict[str, Any]]:
    case_id = uuid.uuid4()
    await produce_event(
        bootstrap, nomination(case_id, call_id, org=org, category=category, title=title), topic=topics.REVIEW
    )

    async def opened() -> dict[str, Any] | None:
        response = await client.get(f"/evaluations/{case_id}", headers=OPERATOR)
        return response.json() if response.status_code == 200 else None

    return case_id, await eventually(opened, timeout=60, what=f"evaluation of {case_id} opened")


def score_body(value: int | dict[str, int], keys: list[str] = DEFAULT_KEYS) -> dict[str, Any]:
    values = value if isinstance(value, dict) else dict.fromkeys(keys, value)
    return {
        "scores": [{"criterion": k, "score": v, "comment": f"{k} comment"} for k, v in values.items()],
        "overall_comment": "solid work",
    }


async def set_jury(client: httpx.AsyncClient, call_id: uuid.UUID, jurors: list[dict[str, Any]], k: int = 2) -> Any:
    response = await client.put(
        f"/calls/{call_id}/jury", json={"jurors": jurors, "jurors_per_case": k}, headers=OPERATOR
    )
    assert response.status_code == 200, response.text
    return response.json()


def panel(case_org: str) -> list[dict[str, Any]]:
    return [
        {"user_id": "j-own", "name": "Own Org", "organisation_id": case_org, "conflicts": []},
        {"user_id": "j-declared", "name": "Declared", "organisation_id": "org-d", "conflicts": [case_org]},
        {"user_id": "j-a", "name": "Juror A", "email": "a@example.org", "organisation_id": "org-a", "conflicts": []},
        {"user_id": "j-b", "name": "Juror B", "organisation_id": "org-b", "conflicts": []},
        {"user_id": "j-c", "name": "Juror C", "organisation_id": "org-c", "conflicts": []},
    ]


async def test_nomination_to_decision_and_results(client: httpx.AsyncClient, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    case_org = f"org-{uuid.uuid4().hex[:6]}"
    jury = await set_jury(client, call_id, panel(case_org))
    assert [j["user_id"] for j in jury["jurors"]] == ["j-own", "j-declared", "j-a", "j-b", "j-c"]
    assert (await client.get(f"/calls/{call_id}/jury", headers=OPERATOR)).json()["jurors_per_case"] == 2

    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        case_id, evaluation = await nominate(client, bootstrap, call_id, org=case_org)

        # Evaluation opened with the default criteria and 2 jurors free of conflicts.
        assert evaluation["status"] == "open"
        assert evaluation["case"]["organisation_id"] == case_org
        assert [c["key"] for c in evaluation["criteria"]] == DEFAULT_KEYS
        assert [j["juror_id"] for j in evaluation["jurors"]] == ["j-a", "j-b"]

        async def opened_event() -> list[CloudEvent]:
            return awards_topic.events(subject=str(case_id), event_type="kipina.award.evaluation_opened.v1")

        (event,) = await eventually(opened_event, timeout=30, what="EvaluationOpenedV1")
        assert sorted(event.data["juror_ids"]) == ["j-a", "j-b"]
        assert [c["key"] for c in event.data["criteria"]] == DEFAULT_KEYS
        assert event.data["call_id"] == str(call_id)

        # The juror's work list shows the case, its criteria and no scores yet.
        mine = (await client.get("/assignments", headers=juror("j-a"))).json()
        item = next(i for i in mine["items"] if i["case"]["case_id"] == str(case_id))
        assert item["my_scores"] is None and len(item["criteria"]) == 5
        assert item["case"]["title"] == "Digital permits"

        # An unassigned juror cannot score (404, the case is not theirs).
        response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(3), headers=juror("j-c"))
        assert response.status_code == 404, response.text

        # Out of range → 422 naming the criterion; missing criterion → 422.
        bad = score_body({**dict.fromkeys(DEFAULT_KEYS, 3), "learning": 6})
        response = await client.put(f"/evaluations/{case_id}/scores", json=bad, headers=juror("j-a"))
        assert response.status_code == 422
        assert "learning" in response.json()["message"]
        partial = score_body(dict.fromkeys(DEFAULT_KEYS[:4], 3))
        response = await client.put(f"/evaluations/{case_id}/scores", json=partial, headers=juror("j-a"))
        assert response.status_code == 422 and "effectiveness" in response.json()["message"]
        too_long = score_body(3)
        too_long["scores"][0]["comment"] = "x" * 2001
        response = await client.put(f"/evaluations/{case_id}/scores", json=too_long, headers=juror("j-a"))
        assert response.status_code == 422

        # j-a scores (then resubmits, replacing); j-b has not yet → decision refused naming j-b.
        response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(2), headers=juror("j-a"))
        assert response.status_code == 200, response.text
        response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(4), headers=juror("j-a"))
        assert response.status_code == 200 and response.json()["weighted_score"] == 4.0
        decision = {"outcome": "award_winner", "feedback": "An outstanding, well-evidenced innovation."}
        response = await client.post(f"/evaluations/{case_id}/decision", json=decision, headers=OPERATOR)
        assert response.status_code == 409
        assert "j-b" in response.json()["message"] and "j-a" not in response.json()["message"]

        j_b = {"novelty": 5, "usefulness": 5, "learning": 4, "customer_orientation": 3, "effectiveness": 3}
        response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(j_b), headers=juror("j-b"))
        assert response.status_code == 200, response.text

        # Operators see every juror's scores and comments.
        detail = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
        assert {c["juror_id"] for c in detail["scorecards"]} == {"j-a", "j-b"}
        assert detail["scorecards"][0]["scores"][0]["comment"].endswith("comment")
        assert detail["weighted_score"] == 4.0  # (4 + 4) / 2

        # Intake announces the call again with other criteria: after the first score they change nothing.
        await announce(bootstrap, call_id, revision=2, criteria=[Criterion(key="reach", name="R", weight=1)])
        assert await db_value("SELECT revision FROM calls WHERE call_id = $1", call_id) == 2
        assert [
            c["key"] for c in (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()["criteria"]
        ] == (DEFAULT_KEYS)
        in_force = (await client.get(f"/calls/{call_id}/criteria", headers=OPERATOR)).json()
        assert [c["key"] for c in in_force["criteria"]] == DEFAULT_KEYS and in_force["source"] == "call"

        # Leaderboard: the case ranks first in its category.
        board = (await client.get(f"/calls/{call_id}/leaderboard", headers=OPERATOR)).json()
        (row,) = board["items"]
        assert row == {
            "case_id": str(case_id),
            "title": "Digital permits",
            "category": "public_sector",
            "jurors_scored": 2,
            "jurors_assigned": 2,
            "weighted_score": 4.0,
            "normalised_score": 0.0,
            "rank": 1,
        }

        response = await client.post(f"/evaluations/{case_id}/decision", json=decision, headers=OPERATOR)
        assert response.status_code == 200, response.text
        assert response.json()["weighted_score"] == 4.0 and response.json()["rank_in_category"] == 1

        async def decided_event() -> list[CloudEvent]:
            return awards_topic.events(subject=str(case_id), event_type="kipina.award.decided.v1")

        (decided,) = await eventually(decided_event, timeout=30, what="AwardDecidedV1")
        assert decided.data["outcome"] == "award_winner"
        assert decided.data["weighted_score"] == pytest.approx(4.0)
        assert decided.data["rank_in_category"] == 1
        assert decided.data["feedback"] == decision["feedback"]

        # Until publication the decision may change: the new one replaces it and is announced again.
        changed = {"outcome": "prize_winner", "feedback": "On reflection: a prize for its measurable results."}
        response = await client.post(f"/evaluations/{case_id}/decision", json=changed, headers=OPERATOR)
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "prize_winner" and response.json()["rank_in_category"] == 1
        detail = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
        assert detail["status"] == "decided" and detail["decision"]["feedback"] == changed["feedback"]

        async def decided_twice() -> list[CloudEvent] | None:
            found = awards_topic.events(subject=str(case_id), event_type="kipina.award.decided.v1")
            return found if len(found) == 2 else None

        first, second = await eventually(decided_twice, timeout=30, what="the changed AwardDecidedV1")
        assert (first.id, first.data["outcome"]) == (decided.id, "award_winner")
        assert second.data["outcome"] == "prize_winner" and second.data["feedback"] == changed["feedback"]

        # Scoring stays closed.
        response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(1), headers=juror("j-b"))
        assert response.status_code == 409

        # Results: published once, with the decision as it stands and the jury's feedback.
        response = await client.post(f"/calls/{call_id}/results/publish", headers=OPERATOR)
        assert response.status_code == 200 and response.json()["published"] == [str(case_id)]
        response = await client.post(f"/calls/{call_id}/results/publish", headers=OPERATOR)
        assert response.json()["published"] == []

        async def published_event() -> list[CloudEvent]:
            return awards_topic.events(subject=str(case_id), event_type="kipina.award.results_published.v1")

        (published,) = await eventually(published_event, timeout=30, what="ResultsPublishedV1")
        assert published.data["outcome"] == "prize_winner"
        assert published.data["feedback"] == changed["feedback"]
        assert "weighted_score" not in published.data and "rank_in_category" not in published.data

        # Published, the decision is final.
        response = await client.post(f"/evaluations/{case_id}/decision", json=decision, headers=OPERATOR)
        assert response.status_code == 409
        assert response.json()["error"] == "results_published"
        assert "results of this case are published" in response.json()["message"]
        detail = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
        assert detail["status"] == "published" and detail["published_at"] is not None
        assert detail["decision"]["outcome"] == "prize_winner"

    listing = (await client.get(f"/evaluations?call_id={call_id}&status=published", headers=OPERATOR)).json()
    assert listing["total"] == 1 and listing["items"][0]["case"]["case_id"] == str(case_id)
    listing = (await client.get(f"/evaluations?call_id={call_id}&status=decided", headers=OPERATOR)).json()
    assert listing["total"] == 0


async def test_publication_releases_every_decided_case_of_the_call_at_once(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    (call_id, _), (other_call, _) = await announce(bootstrap), await announce(bootstrap)
    jurors = [{"user_id": f"p-{i}", "name": f"P{i}", "organisation_id": f"org-p{i}"} for i in (1, 2)]
    await set_jury(client, call_id, jurors)
    await set_jury(client, other_call, jurors)
    first, _ = await nominate(client, bootstrap, call_id, org="org-x", title="First")
    second, _ = await nominate(client, bootstrap, call_id, org="org-y", title="Second")
    still_open, _ = await nominate(client, bootstrap, call_id, org="org-z", title="Still open")
    elsewhere, _ = await nominate(client, bootstrap, other_call, org="org-x", title="Elsewhere")
    for case_id in (first, second, elsewhere):
        for who in ("p-1", "p-2"):
            response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(3), headers=juror(who))
            assert response.status_code == 200, response.text
        response = await client.post(
            f"/evaluations/{case_id}/decision", json={"outcome": "finalist", "feedback": "fb"}, headers=OPERATOR
        )
        assert response.status_code == 200, response.text

    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        response = await client.post(f"/calls/{call_id}/results/publish", headers=OPERATOR)
        assert response.status_code == 200, response.text
        assert sorted(response.json()["published"]) == sorted([str(first), str(second)])

        async def both_published() -> list[CloudEvent] | None:
            found = [
                e
                for e in awards_topic.events(event_type="kipina.award.results_published.v1")
                if e.data["call_id"] == str(call_id)
            ]
            return found if len(found) == 2 else None

        released = await eventually(both_published, timeout=30, what="ResultsPublishedV1 for both decided cases")
        assert {e.subject for e in released} == {str(first), str(second)}
    # Awards' own record of what it emitted (committed with the publication): nothing for the others.
    for case_id in (still_open, elsewhere):
        emitted = await db_value(
            "SELECT count(*) FROM outbox WHERE message_key = $1 AND event_type = $2",
            str(case_id),
            "kipina.award.results_published.v1",
        )
        assert emitted == 0
    statuses = {
        c: (await client.get(f"/evaluations/{c}", headers=OPERATOR)).json()["status"]
        for c in (first, second, still_open, elsewhere)
    }
    assert statuses == {first: "published", second: "published", still_open: "open", elsewhere: "decided"}


async def test_custom_criteria_conflict_declaration_and_normalised_leaderboard(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    call_id, _ = await announce(bootstrap)
    criteria = [
        {"key": "impact", "name": "Impact", "weight": 3, "scale_min": 1, "scale_max": 10},
        {"key": "scalability", "name": "Scalability", "weight": 1, "scale_min": 1, "scale_max": 10},
    ]
    response = await client.put(f"/calls/{call_id}/criteria", json={"criteria": criteria}, headers=OPERATOR)
    assert response.status_code == 200, response.text
    bad = [{"key": "impact", "name": "Impact", "weight": 0}]
    response = await client.put(f"/calls/{call_id}/criteria", json={"criteria": bad}, headers=OPERATOR)
    assert response.status_code == 422
    got = (await client.get(f"/calls/{call_id}/criteria", headers=OPERATOR)).json()
    assert [c["key"] for c in got["criteria"]] == ["impact", "scalability"] and got["is_default"] is False
    assert got["source"] == "override"

    jurors = [
        {"user_id": "k-1", "name": "K1", "organisation_id": "org-1"},
        {"user_id": "k-2", "name": "K2", "organisation_id": "org-2"},
        {"user_id": "k-3", "name": "K3", "organisation_id": "org-3"},
    ]
    await set_jury(client, call_id, jurors)
    keys = ["impact", "scalability"]

    first, evaluation = await nominate(client, bootstrap, call_id, org="org-x", title="Alpha")
    assert [j["juror_id"] for j in evaluation["jurors"]] == ["k-1", "k-2"]
    second, evaluation = await nominate(client, bootstrap, call_id, org="org-x", title="Beta")
    assert sorted(j["juror_id"] for j in evaluation["jurors"]) == ["k-1", "k-3"]  # least loaded first

    # k-2 declares a conflict on the first case: unassigned and replaced by k-3.
    response = await client.post(
        f"/evaluations/{first}/conflict", json={"reason": "former employer"}, headers=juror("k-2")
    )
    assert response.status_code == 200 and response.json()["replacement_assigned"] is True
    detail = (await client.get(f"/evaluations/{first}", headers=OPERATOR)).json()
    assert sorted(j["juror_id"] for j in detail["jurors"]) == ["k-1", "k-3"]
    assert detail["recused_juror_ids"] == ["k-2"]
    response = await client.put(f"/evaluations/{first}/scores", json=score_body(5, keys), headers=juror("k-2"))
    assert response.status_code == 404

    # k-1 is lenient, k-3 harsh; both prefer Beta.
    for case_id, k1, k3 in ((first, 8, 2), (second, 10, 4)):
        for who, value in (("k-1", k1), ("k-3", k3)):
            response = await client.put(
                f"/evaluations/{case_id}/scores", json=score_body(value, keys), headers=juror(who)
            )
            assert response.status_code == 200, response.text

    # Criteria are frozen once scores exist.
    response = await client.put(f"/calls/{call_id}/criteria", json={"criteria": criteria}, headers=OPERATOR)
    assert response.status_code == 409

    board = (await client.get(f"/calls/{call_id}/leaderboard?normalise=true", headers=OPERATOR)).json()
    rows = {r["title"]: r for r in board["items"]}
    assert rows["Beta"]["rank"] == 1 and rows["Alpha"]["rank"] == 2
    assert rows["Beta"]["weighted_score"] == 7.0 and rows["Alpha"]["weighted_score"] == 5.0
    assert rows["Beta"]["normalised_score"] == 1.0 and rows["Alpha"]["normalised_score"] == -1.0
    empty = (await client.get(f"/calls/{call_id}/leaderboard?category=education", headers=OPERATOR)).json()
    assert empty["items"] == [] and empty["total"] == 0


async def test_withdrawal_closes_the_evaluation(client: httpx.AsyncClient, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    await set_jury(client, call_id, [{"user_id": "w-1", "name": "W1", "organisation_id": "org-w"}], k=2)
    case_id, evaluation = await nominate(client, bootstrap, call_id, org="org-x")
    assert [j["juror_id"] for j in evaluation["jurors"]] == ["w-1"]  # the panel allows only one

    withdrawn = make_event(
        CaseWithdrawnV1(case_id=case_id, call_id=call_id, reason="changed plans"),
        service="intake",
        subject=str(case_id),
    )
    await produce_event(bootstrap, withdrawn, topic=topics.INTAKE)

    async def is_withdrawn() -> bool:
        body = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
        return body["status"] == "withdrawn"

    await eventually(is_withdrawn, timeout=60, what="evaluation withdrawn")
    response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(3), headers=juror("w-1"))
    assert response.status_code == 409


async def test_jury_set_after_nomination_assigns_jurors(client: httpx.AsyncClient, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    case_id, evaluation = await nominate(client, bootstrap, call_id, org="org-late")
    assert evaluation["jurors"] == []
    response = await client.post(
        f"/evaluations/{case_id}/decision", json={"outcome": "finalist", "feedback": "x"}, headers=OPERATOR
    )
    assert response.status_code == 409
    jury = await set_jury(
        client,
        call_id,
        [
            {"user_id": "l-1", "name": "L1", "organisation_id": "org-late"},
            {"user_id": "l-2", "name": "L2", "organisation_id": "org-2", "conflicts": [str(case_id)]},
            {"user_id": "l-3", "name": "L3", "organisation_id": "org-3"},
            {"user_id": "l-4", "name": "L4", "organisation_id": "org-4"},
        ],
    )
    assert jury["assignments_added"] == 2
    detail = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
    assert [j["juror_id"] for j in detail["jurors"]] == ["l-3", "l-4"]


async def test_authentication_and_roles(client: httpx.AsyncClient, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    case_id = uuid.uuid4()
    assert (await client.get(f"/calls/{call_id}/leaderboard")).status_code == 401
    assert (await client.get("/assignments", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await client.get(f"/calls/{call_id}/leaderboard", headers=juror("j-a"))).status_code == 403
    assert (await client.put(f"/calls/{call_id}/jury", json={"jurors": []}, headers=juror("j-a"))).status_code == 403
    assert (await client.get("/assignments", headers=auth("submitter"))).status_code == 403
    response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(3), headers=OPERATOR)
    assert response.status_code == 403
    response = await client.post(
        f"/evaluations/{case_id}/decision", json={"outcome": "finalist", "feedback": "x"}, headers=juror("j-a")
    )
    assert response.status_code == 403
    # Unknown things are 404, bad input 422.
    assert (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).status_code == 404
    response = await client.get(f"/calls/{call_id}/jury", headers=OPERATOR)
    assert response.status_code == 404 and "no jury has been set" in response.json()["message"]
    assert (await client.get("/evaluations?limit=0", headers=OPERATOR)).status_code == 422
    response = await client.post(
        f"/evaluations/{case_id}/decision", json={"outcome": "best_ever", "feedback": "x"}, headers=OPERATOR
    )
    assert response.status_code == 422
    duplicate = [{"user_id": "d", "name": "D", "organisation_id": "o"}] * 2
    response = await client.put(f"/calls/{call_id}/jury", json={"jurors": duplicate}, headers=OPERATOR)
    assert response.status_code == 422 and "more than once" in response.json()["message"]
    nul = [{"user_id": "n", "name": "N\u0000", "organisation_id": "o"}]
    response = await client.put(f"/calls/{call_id}/jury", json={"jurors": nul}, headers=OPERATOR)
    assert response.status_code == 422 and "NUL" in response.json()["message"], response.text
    default = (await client.get(f"/calls/{call_id}/criteria", headers=OPERATOR)).json()
    assert default["is_default"] is True and default["source"] == "call"
    assert [c["key"] for c in default["criteria"]] == DEFAULT_KEYS


async def test_repeated_nomination_and_early_withdrawal(client: httpx.AsyncClient, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    await set_jury(
        client,
        call_id,
        [
            {"user_id": "r-1", "name": "R1", "organisation_id": "org-r1"},
            {"user_id": "r-2", "name": "R2", "organisation_id": "org-r2"},
            {"user_id": "r-3", "name": "R3", "organisation_id": "org-r3"},
        ],
    )
    async with watch(bootstrap, topics.AWARDS) as awards_topic:
        case_id, evaluation = await nominate(client, bootstrap, call_id, org="org-x")
        # The same nomination redelivered (same event id) and a second nomination (new id): nothing changes.
        again = nomination(case_id, call_id, org="org-x", category=Category.EDUCATION, title="Other title")
        await produce_event(bootstrap, again, topic=topics.REVIEW)
        await produce_event(bootstrap, again, topic=topics.REVIEW)

        # A withdrawal that overtakes its nomination: the evaluation never opens.
        early = uuid.uuid4()
        withdrawn = make_event(CaseWithdrawnV1(case_id=early, call_id=call_id), service="intake", subject=str(early))
        await produce_event(bootstrap, withdrawn, topic=topics.INTAKE)
        late = nomination(early, call_id, org="org-y", category=Category.EDUCATION, title="Late")

        async def withdrawal_seen() -> bool:
            # The withdrawal is on another topic: wait until it is handled before nominating.
            return bool(await db_value("SELECT 1 FROM withdrawn_cases WHERE case_id = $1", early))

        await eventually(withdrawal_seen, timeout=30, what="withdrawal handled")
        await produce_event(bootstrap, late, topic=topics.REVIEW)

        async def late_withdrawn() -> Any:
            response = await client.get(f"/evaluations/{early}", headers=OPERATOR)
            return response.status_code == 200 and response.json()["status"] == "withdrawn" and response.json()

        body = await eventually(late_withdrawn, timeout=60, what="late nomination recorded as withdrawn")
        assert body["jurors"] == []

        async def opened_events() -> list[CloudEvent]:
            return awards_topic.events(subject=str(case_id), event_type="kipina.award.evaluation_opened.v1")

        await eventually(opened_events, timeout=30, what="EvaluationOpenedV1")

        async def repeat_handled() -> bool:
            return bool(await db_value("SELECT 1 FROM inbox WHERE event_id = $1", again.id))

        await eventually(repeat_handled, timeout=30, what="repeated nomination handled")
        # The inbox row commits with any outbox row the handler wrote: awards' own record of what it emitted
        # is final now. Once the relay published it, everything is on the topic.
        # One evaluation opened and its jurors told, once each.
        assert await db_value("SELECT count(*) FROM outbox WHERE message_key = $1", str(case_id)) == 2
        assert await db_value("SELECT count(*) FROM outbox WHERE message_key = $1", str(early)) == 0

        async def relayed() -> bool:
            return await db_value("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

        await eventually(relayed, timeout=30, what="awards' outbox published")
        await awards_topic.caught_up()
    assert [e.type for e in awards_topic.events(subject=str(case_id))] == [
        "kipina.award.evaluation_opened.v1",
        "kipina.award.jurors_assigned.v1",
    ]
    assert awards_topic.events(subject=str(early)) == []
    detail = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
    assert detail["case"]["title"] == evaluation["case"]["title"] == "Digital permits"
    assert detail["jurors"] == evaluation["jurors"]


async def test_operations_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/ready")).status_code == 200
    spec = (await client.get("/asyncapi.json")).json()
    text = str(spec)
    for event_type in (
        "kipina.award.evaluation_opened.v1",
        "kipina.award.decided.v1",
        "kipina.award.results_published.v1",
    ):
        assert event_type in text


# --------------------------------------------------------------------------- what jurors read of a case


def snapshot(case_id: uuid.UUID, call_id: uuid.UUID, *, org: str, revision: int, problem: str) -> CaseSnapshot:
    return CaseSnapshot(
        case_id=case_id,
        call_id=call_id,
        call_title="Quality Innovation Award 2026",
        revision=revision,
        title="Digital permits",
        summary="Building permits decided in a day instead of a month.",
        problem=problem,
        solution="An online service with automated checks.",
        organisation=Organisation(id=org, name=f"Organisation {org}", business_id="0101263-6"),
        submitter_id="sub-1",
        submitter=Contact(name="Sanna Submitter", email="sanna@example.org"),
        team=[Contact(name="Tiina Team", email="tiina@example.org", role="service designer")],
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        oecd_principles=[1, 4],
        iso_stage=IsoStage.VALIDATION,
        drivers=["customer needs"],
        obstacles=["legacy systems"],
    )


async def test_an_assigned_juror_reads_the_whole_case_and_nobody_else_does(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    call_id, _ = await announce(bootstrap)
    case_id = uuid.uuid4()
    case_org = f"org-{uuid.uuid4().hex[:6]}"
    await set_jury(client, call_id, panel(case_org), k=2)  # j-a and j-b are assigned; j-c is not
    evidence, users = uuid.uuid4(), uuid.uuid4()
    intake_events = [
        CaseSubmittedV1(case=snapshot(case_id, call_id, org=case_org, revision=1, problem="Permits take weeks.")),
        CaseRevisedV1(
            case=snapshot(case_id, call_id, org=case_org, revision=2, problem="Permits take 31 days on average."),
            change_note="added statistics",
            addressed_points=[evidence],
        ),
    ]
    due = datetime.now(UTC) + timedelta(days=3)
    review_events = [
        IterationOpenedV1(
            case_id=case_id, call_id=call_id, iteration=1, revision=1, stage=IsoStage.VALIDATION, due_at=due
        ),
        ChangesRequestedV1(
            case_id=case_id,
            call_id=call_id,
            iteration=1,
            reviewer_ids=["rev-1"],
            comment="Evidence and users are missing.",
            feedback=[
                FeedbackItem(checklist_item="evidence of results is presented", met=False, point_id=evidence),
                FeedbackItem(checklist_item="concept tested with real users", met=False, point_id=users),
                FeedbackItem(checklist_item="feasibility and cost are assessed", met=True, comment="fine"),
            ],
        ),
        IterationOpenedV1(
            case_id=case_id, call_id=call_id, iteration=2, revision=2, stage=IsoStage.VALIDATION, due_at=due
        ),
    ]
    for payload in intake_events:
        await produce_event(bootstrap, make_event(payload, service="intake", subject=str(case_id)), topic=topics.INTAKE)
    for payload in review_events:
        await produce_event(bootstrap, make_event(payload, service="review", subject=str(case_id)), topic=topics.REVIEW)
    # The nomination settles iteration 2 ("ready for the jury").
    nominated = nomination(case_id, call_id, org=case_org, category=Category.PUBLIC_SECTOR, title="Digital permits")
    await produce_event(bootstrap, nominated, topic=topics.REVIEW)

    async def whole_case() -> dict[str, Any] | None:
        # Both topics feed it: wait until the nomination's round and the revision's content are both in.
        response = await client.get(f"/assignments/{case_id}", headers=juror("j-a"))
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        content, history = body["content"], body["review_history"]
        return body if content and content["revision"] == 2 and len(history) == 2 and history[1]["outcome"] else None

    seen = await eventually(whole_case, timeout=60, what="the whole case for juror j-a")
    content = seen["content"]
    assert content["problem"] == "Permits take 31 days on average." and content["solution"]
    assert content["team"] == [{"name": "Tiina Team", "role": "service designer"}]
    assert (content["oecd_principles"], content["iso_stage"]) == ([1, 4], "validation")
    assert (content["drivers"], content["obstacles"]) == (["customer needs"], ["legacy systems"])
    assert "@" not in str(seen), "jurors read no contact data"
    first, second = seen["review_history"]
    assert (first["iteration"], first["stage"], first["revision"], first["outcome"]) == (
        1,
        "validation",
        1,
        "changes_requested",
    )
    assert first["comment"] == "Evidence and users are missing."
    assert [(f["point_id"], f["status"], f["addressed_in_revision"]) for f in first["feedback"]] == [
        (str(evidence), "addressed", 2),
        (str(users), "open", None),
        (None, None, None),
    ]
    assert (second["iteration"], second["revision"], second["outcome"]) == (2, 2, "nominated")
    assert second["comment"] == "ready for the jury"
    assert seen["revisions"] == [
        {
            "revision": 2,
            "change_note": "added statistics",
            "addressed_points": [str(evidence)],
            "received_at": seen["revisions"][0]["received_at"],
        }
    ]
    assert [c["key"] for c in seen["criteria"]] == DEFAULT_KEYS
    assert all(c["description"] and (c["scale_min"], c["scale_max"]) == (0, 5) for c in seen["criteria"])
    listed = (await client.get("/assignments", headers=juror("j-a"))).json()["items"]
    assert [a["content"] for a in listed if a["case"]["case_id"] == str(case_id)] == [content]

    # A juror not assigned to the case never reads it; operators do.
    assert (await client.get(f"/assignments/{case_id}", headers=juror("j-c"))).status_code == 404
    assert all(
        a["case"]["case_id"] != str(case_id)
        for a in (await client.get("/assignments", headers=juror("j-c"))).json()["items"]
    )
    assert (await client.get(f"/assignments/{case_id}", headers=OPERATOR)).status_code == 403
    operator_view = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
    assert operator_view["content"] == content and operator_view["review_history"] == seen["review_history"]
    # A juror who recuses is no longer assigned, and reads it no more.
    recused = await client.post(
        f"/evaluations/{case_id}/conflict", headers=juror("j-b"), json={"reason": "former employer"}
    )
    assert recused.status_code == 200, recused.text
    assert (await client.get(f"/assignments/{case_id}", headers=juror("j-b"))).status_code == 404


async def test_criteria_descriptions_are_set_and_read(client: httpx.AsyncClient, bootstrap: str) -> None:
    call_id, _ = await announce(bootstrap)
    body = {
        "criteria": [
            {"key": "impact", "name": "Impact", "weight": 2, "description": "Measured effect on residents."},
            {"key": "reach", "name": "Reach", "weight": 1},
        ]
    }
    response = await client.put(f"/calls/{call_id}/criteria", json=body, headers=OPERATOR)
    assert response.status_code == 200, response.text
    read = (await client.get(f"/calls/{call_id}/criteria", headers=OPERATOR)).json()
    assert [(c["key"], c["description"]) for c in read["criteria"]] == [
        ("impact", "Measured effect on residents."),
        ("reach", ""),
    ]
    too_long = {"criteria": [{"key": "impact", "name": "Impact", "weight": 1, "description": "x" * 2001}]}
    assert (await client.put(f"/calls/{call_id}/criteria", json=too_long, headers=OPERATOR)).status_code == 422


async def test_calls_awards_has_not_learned_are_not_found(client: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4()
    criteria = {"criteria": [{"key": "impact", "name": "Impact", "weight": 1}]}
    jury = {"jurors": [{"user_id": "u-1", "name": "U1", "organisation_id": "org-u"}]}
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "criteria", None),
        ("PUT", "criteria", criteria),
        ("GET", "jury", None),
        ("PUT", "jury", jury),
        ("GET", "leaderboard", None),
        ("POST", "results/publish", None),
    ]
    for method, path, body in requests:
        response = await client.request(method, f"/calls/{unknown}/{path}", json=body, headers=OPERATOR)
        assert response.status_code == 404, f"{method} {path}: {response.text}"
        refusal = response.json()
        assert refusal["error"] == "not_found"
        assert refusal["message"].startswith(f"call {unknown} is not known to awards"), refusal
    # Nothing was stored for the call on the way.
    assert await db_value("SELECT count(*) FROM juries WHERE call_id = $1", unknown) == 0
    assert await db_value("SELECT count(*) FROM call_criteria WHERE call_id = $1", unknown) == 0


async def test_a_call_is_learned_from_its_announcements_newest_revision_first(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    call_id = uuid.uuid4()
    impact = [Criterion(key="impact", name="Impact", weight=2, scale_min=1, scale_max=10)]
    reach = [Criterion(key="reach", name="Reach", weight=1), Criterion(key="depth", name="Depth", weight=1)]

    # A nomination that overtakes its call's announcement is evaluated against the defaults meanwhile.
    case_id, evaluation = await nominate(client, bootstrap, call_id, org="org-early")
    assert [c["key"] for c in evaluation["criteria"]] == DEFAULT_KEYS
    assert (await client.get(f"/calls/{call_id}/criteria", headers=OPERATOR)).status_code == 404

    # The announcement teaches awards the call, and its criteria reach the evaluation opened before it.
    await announce(bootstrap, call_id, revision=1, criteria=impact)
    got = (await client.get(f"/calls/{call_id}/criteria", headers=OPERATOR)).json()
    assert got == {
        "call_id": str(call_id),
        "criteria": [c.model_dump() for c in impact],
        "is_default": True,
        "source": "call",
    }
    detail = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
    assert [c["key"] for c in detail["criteria"]] == ["impact"]

    # A newer revision changes the criteria again; an older one, arriving late, changes nothing.
    await announce(bootstrap, call_id, revision=3, criteria=reach)
    await announce(bootstrap, call_id, revision=2, criteria=impact)
    got = (await client.get(f"/calls/{call_id}/criteria", headers=OPERATOR)).json()
    assert [c["key"] for c in got["criteria"]] == ["reach", "depth"]
    assert await db_value("SELECT revision FROM calls WHERE call_id = $1", call_id) == 3
    assert await db_value("SELECT title FROM calls WHERE call_id = $1", call_id) == (
        "Quality Innovation Award 2026 (revision 3)"
    )
    detail = (await client.get(f"/evaluations/{case_id}", headers=OPERATOR)).json()
    assert [c["key"] for c in detail["criteria"]] == ["reach", "depth"]

    # The call is known now: its jury, leaderboard and results answer.
    await set_jury(client, call_id, [{"user_id": "n-1", "name": "N1", "organisation_id": "org-n"}], k=1)
    assert (await client.get(f"/calls/{call_id}/leaderboard", headers=OPERATOR)).json()["items"] == []
    assert (await client.post(f"/calls/{call_id}/results/publish", headers=OPERATOR)).json()["published"] == []

"""Awards against the real Kafka broker and PostgreSQL: nomination → evaluation → scores → decision → results."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared import topics
from shared.events import CaseNominatedV1, CaseWithdrawnV1, CloudEvent
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
    call_id = uuid.uuid4()
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

        # Decided once only; scoring closed.
        response = await client.post(f"/evaluations/{case_id}/decision", json=decision, headers=OPERATOR)
        assert response.status_code == 409
        response = await client.put(f"/evaluations/{case_id}/scores", json=score_body(1), headers=juror("j-b"))
        assert response.status_code == 409

        # Results: published once.
        response = await client.post(f"/calls/{call_id}/results/publish", headers=OPERATOR)
        assert response.status_code == 200 and response.json()["published"] == [str(case_id)]
        response = await client.post(f"/calls/{call_id}/results/publish", headers=OPERATOR)
        assert response.json()["published"] == []

        async def published_event() -> list[CloudEvent]:
            return awards_topic.events(subject=str(case_id), event_type="kipina.award.results_published.v1")

        (published,) = await eventually(published_event, timeout=30, what="ResultsPublishedV1")
        assert published.data["outcome"] == "award_winner"

    listing = (await client.get(f"/evaluations?call_id={call_id}&status=decided", headers=OPERATOR)).json()
    assert listing["total"] == 1 and listing["items"][0]["case"]["case_id"] == str(case_id)


async def test_custom_criteria_conflict_declaration_and_normalised_leaderboard(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    call_id = uuid.uuid4()
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
    call_id = uuid.uuid4()
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
    call_id = uuid.uuid4()
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


async def test_authentication_and_roles(client: httpx.AsyncClient) -> None:
    call_id = uuid.uuid4()
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
    assert (await client.get(f"/calls/{call_id}/jury", headers=OPERATOR)).status_code == 404
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
    assert default["is_default"] is True and [c["key"] for c in default["criteria"]] == DEFAULT_KEYS


async def test_repeated_nomination_and_early_withdrawal(client: httpx.AsyncClient, bootstrap: str) -> None:
    call_id = uuid.uuid4()
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
        assert await db_value("SELECT count(*) FROM outbox WHERE message_key = $1", str(case_id)) == 1
        assert await db_value("SELECT count(*) FROM outbox WHERE message_key = $1", str(early)) == 0

        async def relayed() -> bool:
            return await db_value("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

        await eventually(relayed, timeout=30, what="awards' outbox published")
        await awards_topic.caught_up()
    assert len(awards_topic.events(subject=str(case_id))) == 1
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

"""Intake over HTTP and Kafka, against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared import topics
from shared.events import (
    AwardDecidedV1,
    CaseSubmittedV1,
    ChangesRequestedV1,
    Criterion,
    EvaluationOpenedV1,
    FeedbackItem,
    IterationOpenedV1,
    ResultsPublishedV1,
)
from shared.vocabulary import AwardOutcome, IsoStage
from tests.integration.intake.helpers import (
    ALICE,
    BOB,
    CARLA,
    OPERATOR,
    call_body,
    case_body,
    envelope,
    new_call,
    new_case,
    produce,
    read_events,
)
from tests.support.harness import auth, eventually

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------- calls


async def test_operator_creates_a_call_everyone_reads_it(client: httpx.AsyncClient) -> None:
    call = await new_call(client)
    assert call["open"] is True
    assert call["reviewers_per_iteration"] == 2
    assert call["categories"] == ["public_sector", "education"]
    uuid.UUID(call["id"])

    r = await client.get(f"/calls/{call['id']}", headers=auth("reviewer", user="rita"))
    assert r.status_code == 200
    assert r.json()["title"] == call["title"]

    page = (await client.get("/calls", params={"limit": 100, "open": True}, headers=ALICE)).json()
    assert {"items", "limit", "offset", "total"} <= page.keys()
    assert call["id"] in [c["id"] for c in page["items"]]

    assert (await client.get(f"/calls/{uuid.uuid4()}", headers=ALICE)).status_code == 404


async def test_call_rules(client: httpx.AsyncClient) -> None:
    r = await client.post("/calls", json=call_body(), headers=ALICE)
    assert r.status_code == 403
    assert "operator" in r.json()["message"]
    assert (await client.post("/calls", json=call_body())).status_code == 401

    now = datetime.now(UTC)
    r = await client.post(
        "/calls",
        json=call_body(opens_at=now.isoformat(), closes_at=(now - timedelta(days=1)).isoformat()),
        headers=OPERATOR,
    )
    assert r.status_code == 422
    assert "closes_at must be after opens_at" in r.json()["message"]

    r = await client.post("/calls", json=call_body(categories=[], reviewers_per_iteration=3), headers=OPERATOR)
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert {"categories", "reviewers_per_iteration"} <= fields

    r = await client.post("/calls", json=call_body(categories=["astrology"]), headers=OPERATOR)
    assert r.status_code == 422
    assert "categories.0" in r.json()["message"]

    assert (await client.get("/calls", params={"limit": 0}, headers=ALICE)).status_code == 422


async def test_text_with_a_nul_character_is_refused_not_a_server_error(client: httpx.AsyncClient) -> None:
    # PostgreSQL text cannot hold U+0000: without the refusal the INSERT fails and the answer is a 500.
    r = await client.post("/calls", json=call_body(title="Smart\u0000 library"), headers=OPERATOR)
    assert r.status_code == 422, r.text
    assert r.json()["problems"] == [
        {
            "field": "title",
            "problem": "text may not contain the NUL character (U+0000)",
            "type": "value_error",
        }
    ]
    r = await client.post("/calls", json=call_body(opens_at=0), headers=OPERATOR)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "opens_at"


# --------------------------------------------------------------------------- submission


async def test_the_submissions_answer_is_the_case_as_stored(client: httpx.AsyncClient) -> None:
    """The answer is built from what was inserted, not read back: it must be what reading the case gives."""
    call = await new_call(client)
    r = await client.post("/cases", json=case_body(call["id"]), headers=ALICE)
    assert r.status_code == 201, r.text
    stored = await client.get(f"/cases/{r.json()['id']}", headers=ALICE)
    assert stored.status_code == 200
    assert r.json() == stored.json()
    assert r.json()["timeline"][0]["at"] == r.json()["created_at"]


async def test_submit_emits_case_submitted_on_the_intake_topic(client: httpx.AsyncClient, bootstrap: str) -> None:
    call = await new_call(client)
    correlation = str(uuid.uuid4())
    r = await client.post("/cases", json=case_body(call["id"]), headers={**ALICE, "X-Correlation-ID": correlation})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["status"] == "submitted"
    assert case["revision"] == 1
    assert case["stage"] == "validation"
    assert case["submitter"] == {"name": "Alice Aalto", "email": "alice@example.org", "language": "en", "role": None}
    assert case["organisation"]["id"] == "org-espoo"  # the token's organisation
    assert [t["kind"] for t in case["timeline"]] == ["submitted"]

    [record] = await read_events(bootstrap, topics.INTAKE, key=case["id"], count=1)
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
    event = envelope(record)
    assert event["specversion"] == "1.0"
    assert event["type"] == CaseSubmittedV1.event_type
    assert event["source"] == "/kipina/intake"
    assert event["subject"] == case["id"]
    assert event["correlationid"] == correlation
    assert event["dataschema"] == CaseSubmittedV1.dataschema()
    snapshot = CaseSubmittedV1.model_validate(event["data"]).case
    assert str(snapshot.case_id) == case["id"]
    assert snapshot.call_title == call["title"]
    assert snapshot.reviewers_per_iteration == 2
    assert snapshot.revision == 1
    assert snapshot.submitter.email == "alice@example.org"
    assert snapshot.organisation.id == "org-espoo"


async def test_a_case_is_filed_for_the_tokens_organisation_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, bootstrap: str
) -> None:
    """Review's and awards' conflict-of-interest rules trust the case's organisation: the body cannot choose it."""
    call = await new_call(client)
    title = f"Somebody else's idea {uuid.uuid4().hex[:8]}"
    for claimed in ("org-vantaa", "ORG-ESPOO"):
        body = case_body(call["id"], title=title, organisation={"id": claimed, "name": "X", "business_id": "0101263-6"})
        r = await client.post("/cases", json=body, headers=ALICE)
        assert r.status_code == 422, r.text
        refusal = r.json()
        assert refusal["error"] == "organisation_not_yours"
        assert "your token carries organisation 'org-espoo'" in refusal["message"]
        assert refusal["problems"][0]["field"] == "organisation.id"
    assert await db.fetchval("SELECT count(*) FROM cases WHERE call_id = $1", uuid.UUID(call["id"])) == 0

    # Naming the token's own organisation is allowed (and the same as leaving the id out).
    own = {"id": "org-espoo", "name": "Espoo", "business_id": "0101263-6"}
    case = await new_case(client, call["id"], title=title, organisation=own)
    assert case["organisation"] == own
    [record] = await read_events(bootstrap, topics.INTAKE, key=case["id"], count=1)
    assert envelope(record)["data"]["case"]["organisation"]["id"] == "org-espoo"
    assert await db.fetchval("SELECT organisation_id FROM cases WHERE id = $1", uuid.UUID(case["id"])) == "org-espoo"

    # A revision has no organisation to change.
    r = await client.post(
        f"/cases/{case['id']}/revisions",
        json={"organisation": {"id": "org-vantaa", "name": "X", "business_id": "0101263-6"}},
        headers=ALICE,
    )
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "organisation"


async def test_idempotent_retry_returns_the_original_case(client: httpx.AsyncClient) -> None:
    call = await new_call(client)
    body = case_body(call["id"])
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/cases", json=body, headers={**ALICE, **key})
    assert first.status_code == 201
    retry = await client.post("/cases", json=dict(reversed(body.items())), headers={**ALICE, **key})
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]

    other = await client.post("/cases", json={**body, "summary": "x" * 30}, headers={**ALICE, **key})
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"
    assert "different request body" in other.json()["message"]

    # Bob's key lives in Bob's namespace, and his organisation may use the same title.
    bob = await client.post("/cases", json=body, headers={**BOB, **key})
    assert bob.status_code == 201, bob.text
    assert bob.json()["id"] != first.json()["id"]

    mine = (await client.get("/cases", params={"call_id": call["id"]}, headers=ALICE)).json()
    assert mine["total"] == 1


async def test_concurrent_retries_with_one_key_create_one_case(client: httpx.AsyncClient) -> None:
    call = await new_call(client)
    body = case_body(call["id"])
    for _ in range(12):  # a race is not guaranteed in one round; several rounds make it likely
        key = {"Idempotency-Key": str(uuid.uuid4())}
        body = {**body, "title": f"Concurrent retry {uuid.uuid4().hex[:8]}"}
        answers = await asyncio.gather(*(client.post("/cases", json=body, headers={**ALICE, **key}) for _ in range(4)))
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 200, 200, 201], [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1


async def test_near_identical_title_in_the_same_call_is_a_duplicate(client: httpx.AsyncClient) -> None:
    call = await new_call(client)
    case = await new_case(client, call["id"], title="Smart Library Lending")

    mine = await client.post("/cases", json=case_body(call["id"], title="  smart library-lending! "), headers=ALICE)
    assert mine.status_code == 409
    assert mine.json()["existing_case_id"] == case["id"]
    assert case["id"] in mine.json()["message"]

    colleague = await client.post("/cases", json=case_body(call["id"], title="SMART LIBRARY LENDING"), headers=CARLA)
    assert colleague.status_code == 409
    assert colleague.json() == {
        "error": "duplicate_case",
        "message": "your organisation already has a case with a near-identical title in this call",
    }

    # Another organisation may use the title, and learns nothing of Alice's case.
    theirs = await client.post("/cases", json=case_body(call["id"], title="SMART LIBRARY LENDING"), headers=BOB)
    assert theirs.status_code == 201, theirs.text
    assert case["id"] not in theirs.text

    # Another call may hold the same title.
    elsewhere = await new_call(client)
    await new_case(client, elsewhere["id"], title="Smart Library Lending")


async def test_concurrent_submissions_of_one_title(client: httpx.AsyncClient) -> None:
    """Colleagues racing for a title: one wins at the index; another organisation never clashes with them."""
    call = await new_call(client)
    for _ in range(6):  # a race is not guaranteed in one round; several rounds make it likely
        title = f"Racing idea {uuid.uuid4().hex[:8]}"
        body = case_body(call["id"], title=title)
        espoo = await asyncio.gather(*(client.post("/cases", json=body, headers=who) for who in (ALICE, CARLA) * 2))
        assert sorted(a.status_code for a in espoo) == [201, 409, 409, 409], [a.text for a in espoo]
        assert {a.json()["error"] for a in espoo if a.status_code == 409} == {"duplicate_case"}
        vantaa = await client.post("/cases", json=body, headers=BOB)
        assert vantaa.status_code == 201, vantaa.text


async def test_unknown_and_closed_calls(client: httpx.AsyncClient) -> None:
    missing = str(uuid.uuid4())
    r = await client.post("/cases", json=case_body(missing), headers=ALICE)
    assert r.status_code == 422
    assert r.json() == {"error": "unknown_call", "message": f"call {missing} does not exist"}

    now = datetime.now(UTC)
    closed = await new_call(
        client, opens_at=(now - timedelta(days=10)).isoformat(), closes_at=(now - timedelta(days=1)).isoformat()
    )
    assert closed["open"] is False
    r = await client.post("/cases", json=case_body(closed["id"]), headers=ALICE)
    assert r.status_code == 409
    assert r.json()["message"].startswith(f"call {closed['id']} is closed for submissions (closed at ")

    future = await new_call(client, opens_at=(now + timedelta(days=1)).isoformat())
    r = await client.post("/cases", json=case_body(future["id"]), headers=ALICE)
    assert r.status_code == 409
    assert "opens at" in r.json()["message"]


async def test_case_must_fit_the_call(client: httpx.AsyncClient) -> None:
    call = await new_call(client)
    r = await client.post("/cases", json=case_body(call["id"], category="health_care"), headers=ALICE)
    assert r.status_code == 422
    assert "not one of the call's categories" in r.json()["message"]
    r = await client.post("/cases", json=case_body(call["id"], language="sv"), headers=ALICE)
    assert r.status_code == 422
    assert "not one of the call's languages" in r.json()["message"]


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"title": None}, "title", "string"),
        ({"summary": "too short"}, "summary", "at least 20 characters"),
        ({"problem": "p" * 10_001}, "problem", "at most 10000 characters"),
        ({"oecd_principles": "one"}, "oecd_principles", "valid list"),
        ({"oecd_principles": []}, "oecd_principles", "at least 1 item"),
        ({"oecd_principles": [1, 1]}, "oecd_principles", "only once"),
        ({"oecd_principles": [6]}, "oecd_principles.0", "should be 1, 2, 3, 4 or 5"),
        ({"iso_stage": "dreaming"}, "iso_stage", "opportunity"),
        ({"call_id": "not-a-uuid"}, "call_id", "UUID"),
        ({"organisation": {"name": "Espoo", "business_id": "0101263-5"}}, "organisation.business_id", "check digit"),
        ({"team": [{"name": "X", "email": "not-an-email"}]}, "team.0.email", "email"),
        ({"drivers": ["d"] * 11}, "drivers", "at most 10 items"),
        ({"colour": "blue"}, "colour", "Extra inputs are not permitted"),
    ],
)
async def test_bad_case_bodies_are_refused_clearly(
    client: httpx.AsyncClient, change: dict[str, Any], field: str, fragment: str
) -> None:
    body = {**case_body(str(uuid.uuid4())), **change}
    if change.get("title", "") is None:
        del body["title"]
        fragment = "Field required"
    r = await client.post("/cases", json=body, headers=ALICE)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert any(p["field"] == field and fragment.lower() in p["problem"].lower() for p in problems), problems


async def test_malformed_json_and_oversize_body(client: httpx.AsyncClient) -> None:
    r = await client.post("/cases", content=b"{not json", headers={**ALICE, "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_json",
        "message": "the body is not valid JSON (at byte 1): expecting property name enclosed in double quotes",
        "byte": 1,
    }
    r = await client.post("/cases", content=b"x" * 1_000_001, headers={**ALICE, "content-type": "application/json"})
    assert r.status_code == 413


async def test_authentication_and_roles(client: httpx.AsyncClient) -> None:
    call = await new_call(client)
    body = case_body(call["id"])
    assert (await client.post("/cases", json=body)).status_code == 401
    r = await client.post("/cases", json=body, headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401
    assert r.json() == {"error": "unauthorized", "message": "invalid token"}
    r = await client.post("/cases", json=body, headers=auth("reviewer", user="rita"))
    assert r.status_code == 403
    assert "submitter" in r.json()["message"]
    assert (await client.get("/cases", headers=auth("juror", user="jon"))).status_code == 403

    no_email = auth("submitter", user="carl", email="")
    r = await client.post("/cases", json=body, headers=no_email)
    assert r.status_code == 422
    assert "no email" in r.json()["message"]


async def test_someone_elses_case_is_not_found(client: httpx.AsyncClient) -> None:
    call = await new_call(client)
    case = await new_case(client, call["id"])
    assert (await client.get(f"/cases/{case['id']}", headers=ALICE)).status_code == 200
    assert (await client.get(f"/cases/{case['id']}", headers=OPERATOR)).status_code == 200
    r = await client.get(f"/cases/{case['id']}", headers=BOB)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert (await client.get(f"/cases/{case['id']}", headers=auth("reviewer", user="rita"))).status_code == 404
    assert (await client.post(f"/cases/{case['id']}/withdraw", headers=BOB)).status_code == 404

    bobs = (await client.get("/cases", params={"call_id": call["id"]}, headers=BOB)).json()
    assert bobs["total"] == 0
    everyone = (await client.get("/cases", params={"call_id": call["id"]}, headers=OPERATOR)).json()
    assert [c["id"] for c in everyone["items"]] == [case["id"]]
    filtered = await client.get("/cases", params={"status": "decided", "call_id": call["id"]}, headers=OPERATOR)
    assert filtered.json()["total"] == 0
    assert (await client.get("/cases", params={"status": "bogus"}, headers=OPERATOR)).status_code == 422


# --------------------------------------------------------------------------- events in


async def test_changes_requested_then_revision(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, bootstrap: str
) -> None:
    call = await new_call(client)
    case = await new_case(client, call["id"])
    case_id = uuid.UUID(case["id"])
    call_id = uuid.UUID(call["id"])

    early = await client.post(f"/cases/{case_id}/revisions", json={"change_note": "early"}, headers=ALICE)
    assert early.status_code == 409
    assert "'submitted'" in early.json()["message"]

    await produce(
        producer,
        IterationOpenedV1(
            case_id=case_id,
            call_id=call_id,
            iteration=1,
            revision=1,
            stage=IsoStage.VALIDATION,
            due_at=datetime.now(UTC) + timedelta(days=7),
        ),
        case_id=case_id,
    )
    await produce(
        producer,
        ChangesRequestedV1(
            case_id=case_id,
            call_id=call_id,
            iteration=1,
            reviewer_ids=["rita"],
            comment="Please add the pilot's user numbers.",
            feedback=[FeedbackItem(checklist_item="evidence", met=False, comment="no numbers")],
        ),
        case_id=case_id,
    )

    async def changes_requested() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/cases/{case_id}", headers=ALICE)).json()
        return body if body["status"] == "changes_requested" else None

    seen = await eventually(changes_requested, what="status changes_requested")
    kinds = [t["kind"] for t in seen["timeline"]]
    assert kinds == ["submitted", "iteration_opened", "changes_requested"]
    request = seen["timeline"][-1]
    assert request["iteration"] == 1
    assert "Please add the pilot's user numbers." in request["summary"]
    assert request["details"]["feedback"][0]["checklist_item"] == "evidence"

    r = await client.post(f"/cases/{case_id}/revisions", json={"summary": "s" * 10}, headers=ALICE)
    assert r.status_code == 422
    r = await client.post(f"/cases/{case_id}/revisions", json={"change_note": "x"}, headers=BOB)
    assert r.status_code == 404

    r = await client.post(
        f"/cases/{case_id}/revisions",
        json={"problem": "Residents buy tools they use once; 4,000 pilot users.", "change_note": "added numbers"},
        headers=ALICE,
    )
    assert r.status_code == 200, r.text
    revised = r.json()
    assert revised["status"] == "revised"
    assert revised["revision"] == 2
    assert revised["problem"].endswith("4,000 pilot users.")
    assert revised["title"] == case["title"]
    assert revised["timeline"][-1]["kind"] == "revised"
    assert revised["timeline"][-1]["details"]["changed"] == ["problem"]

    again = await client.post(f"/cases/{case_id}/revisions", json={"change_note": "again"}, headers=ALICE)
    assert again.status_code == 409
    assert "'revised'" in again.json()["message"]

    _submitted, revised_event = await read_events(bootstrap, topics.INTAKE, key=str(case_id), count=2)
    event = envelope(revised_event)
    assert event["type"] == "kipina.case.revised.v1"
    assert event["data"]["case"]["revision"] == 2
    assert event["data"]["change_note"] == "added numbers"
    assert event["data"]["case"]["call_title"] == call["title"]


async def test_a_revision_addresses_open_feedback_points_only(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, bootstrap: str
) -> None:
    call = await new_call(client)
    case = await new_case(client, call["id"])
    case_id, call_id = uuid.UUID(case["id"]), uuid.UUID(call["id"])
    evidence, users = uuid.uuid4(), uuid.uuid4()

    def changes(iteration: int, *items: FeedbackItem) -> ChangesRequestedV1:
        return ChangesRequestedV1(
            case_id=case_id,
            call_id=call_id,
            iteration=iteration,
            reviewer_ids=["rita"],
            comment="Please address the points.",
            feedback=list(items),
        )

    async def feedback(headers: dict[str, str] = ALICE) -> httpx.Response:
        return await client.get(f"/cases/{case_id}/feedback", headers=headers)

    assert (await feedback()).json() == {"case_id": str(case_id), "open": 0, "items": []}
    await produce(
        producer,
        changes(
            1,
            FeedbackItem(checklist_item="problem is evidenced", met=False, comment="no numbers", point_id=evidence),
            FeedbackItem(checklist_item="opportunity fits the call", met=True),
            FeedbackItem(checklist_item="users identified", met=False, point_id=users),
        ),
        case_id=case_id,
    )

    async def points_known() -> dict[str, Any] | None:
        body: dict[str, Any] = (await feedback()).json()
        return body if body["items"] else None

    known = await eventually(points_known, what="the feedback points")
    assert known["open"] == 2
    assert [
        (p["point_id"], p["iteration"], p["checklist_item"], p["comment"], p["status"]) for p in known["items"]
    ] == [
        (str(evidence), 1, "problem is evidenced", "no numbers", "open"),
        (str(users), 1, "users identified", "", "open"),
    ]
    assert (await feedback(OPERATOR)).status_code == 200
    assert (await feedback(BOB)).status_code == 404  # someone else's case does not exist for them

    # An id that is no point of this case is refused, naming it; nothing changes.
    stranger = uuid.uuid4()
    refused = await client.post(
        f"/cases/{case_id}/revisions",
        json={"change_note": "done", "addresses": [str(evidence), str(stranger)]},
        headers=ALICE,
    )
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "not_open_feedback_points" and str(stranger) in body["message"]
    assert body["problems"] == [{"field": "addresses.1", "problem": f"{stranger} is not a feedback point of this case"}]
    assert sorted(body["open_points"]) == sorted([str(evidence), str(users)])
    assert (await client.get(f"/cases/{case_id}", headers=ALICE)).json()["status"] == "changes_requested"
    not_uuid = await client.post(f"/cases/{case_id}/revisions", json={"addresses": ["nope"]}, headers=ALICE)
    assert not_uuid.status_code == 422

    revised = await client.post(
        f"/cases/{case_id}/revisions",
        json={"change_note": "added statistics", "addresses": [str(evidence), str(evidence)]},
        headers=ALICE,
    )
    assert revised.status_code == 200, revised.text
    after = (await feedback()).json()
    assert after["open"] == 1
    assert [(p["status"], p["addressed_in_revision"]) for p in after["items"]] == [("addressed", 2), ("open", None)]
    _submitted, revised_event = await read_events(bootstrap, topics.INTAKE, key=str(case_id), count=2)
    assert envelope(revised_event)["data"]["addressed_points"] == [str(evidence)]

    # The next changes request makes the users item a point again; an addressed point cannot be addressed twice.
    again = uuid.uuid4()
    await produce(
        producer,
        changes(2, FeedbackItem(checklist_item="users identified", met=False, point_id=again)),
        case_id=case_id,
    )
    await eventually(lambda: points_known_count(feedback, 3), what="iteration 2's point")
    twice = await client.post(f"/cases/{case_id}/revisions", json={"addresses": [str(evidence)]}, headers=ALICE)
    assert twice.status_code == 422
    assert twice.json()["problems"][0]["problem"] == (
        f"{evidence} ('problem is evidenced') was already addressed by revision 2"
    )
    third = await client.post(
        f"/cases/{case_id}/revisions", json={"addresses": [str(users), str(again)]}, headers=ALICE
    )
    assert third.status_code == 200, third.text
    assert (await feedback()).json()["open"] == 0


async def points_known_count(feedback: Callable[[], Awaitable[httpx.Response]], count: int) -> bool:
    return len((await feedback()).json()["items"]) >= count


async def test_events_for_unknown_cases_are_acked_and_final_cases_stay_final(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, db: asyncpg.Connection
) -> None:
    stranger = uuid.uuid4()
    ghost = await produce(
        producer,
        ChangesRequestedV1(case_id=stranger, call_id=uuid.uuid4(), iteration=1, reviewer_ids=["r"], comment="c"),
        case_id=stranger,
    )

    async def handled() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", ghost.id))

    await eventually(handled, what="the unknown case's event to be handled")
    assert await db.fetchval("SELECT count(*) FROM dead_letters WHERE event_id = $1", str(ghost.id)) == 0
    assert await db.fetchval("SELECT count(*) FROM case_timeline WHERE case_id = $1", stranger) == 0

    call = await new_call(client)
    case = await new_case(client, call["id"])
    case_id = uuid.UUID(case["id"])
    r = await client.post(f"/cases/{case_id}/withdraw", json={"reason": "merged with another case"}, headers=ALICE)
    assert r.status_code == 200
    assert r.json()["status"] == "withdrawn"
    assert (await client.post(f"/cases/{case_id}/withdraw", headers=ALICE)).status_code == 409

    late = await produce(
        producer,
        AwardDecidedV1(
            case_id=case_id, call_id=uuid.UUID(call["id"]), outcome=AwardOutcome.FINALIST, weighted_score=3.0
        ),
        case_id=case_id,
    )

    async def late_handled() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", late.id))

    await eventually(late_handled, what="the late event to be handled")
    after = (await client.get(f"/cases/{case_id}", headers=ALICE)).json()
    assert after["status"] == "withdrawn"
    assert after["outcome"] is None

    # The withdrawn title is free again.
    await new_case(client, call["id"], title=case["title"])


# --------------------------------------------------------------------------- the embargo on award decisions


async def test_a_decision_reaches_the_submitter_only_when_the_results_are_published(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, db: asyncpg.Connection
) -> None:
    call = await new_call(client)
    case = await new_case(client, call["id"])
    case_id, call_id = uuid.UUID(case["id"]), uuid.UUID(call["id"])
    secret = "Strong evidence; the jury was unanimous."
    await produce(
        producer,
        EvaluationOpenedV1(
            case_id=case_id,
            call_id=call_id,
            criteria=[Criterion(key="novelty", name="Novelty", weight=1)],
            juror_ids=[],
        ),
        case_id=case_id,
    )
    await produce(
        producer,
        AwardDecidedV1(
            case_id=case_id,
            call_id=call_id,
            outcome=AwardOutcome.FINALIST,
            weighted_score=4.25,
            rank_in_category=3,
            feedback=secret,
        ),
        case_id=case_id,
    )
    changed = await produce(
        producer,
        AwardDecidedV1(
            case_id=case_id,
            call_id=call_id,
            outcome=AwardOutcome.AWARD_WINNER,
            weighted_score=4.25,
            rank_in_category=1,
            feedback="Changed: the winner.",
        ),
        case_id=case_id,
    )

    async def handled(event_id: uuid.UUID) -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id))

    await eventually(lambda: handled(changed.id), what="the changed decision to be handled")

    # Operators see the decision as it stands, and both decisions in the timeline.
    seen = (await client.get(f"/cases/{case_id}", headers=OPERATOR)).json()
    assert (seen["status"], seen["outcome"], seen["feedback"]) == ("decided", "award_winner", "Changed: the winner.")
    decisions = [t for t in seen["timeline"] if t["kind"] == "decided"]
    assert [d["details"]["outcome"] for d in decisions] == ["finalist", "award_winner"]
    listed = await client.get("/cases", params={"call_id": str(call_id), "status": "decided"}, headers=OPERATOR)
    assert [c["id"] for c in listed.json()["items"]] == [str(case_id)]

    # The submitter sees a case in evaluation, by every route.
    mine = await client.get(f"/cases/{case_id}", headers=ALICE)
    assert mine.status_code == 200
    body = mine.json()
    assert (body["status"], body["outcome"], body["feedback"]) == ("in_evaluation", None, None)
    assert [t["kind"] for t in body["timeline"]] == ["submitted", "evaluation_opened"]
    for leak in ("decided", "finalist", "award_winner", secret, "Changed", "4.25", "rank_in_category"):
        assert leak not in mine.text, leak
    listing = await client.get("/cases", params={"call_id": str(call_id)}, headers=ALICE)
    (item,) = listing.json()["items"]
    assert (item["status"], item["outcome"], item["feedback"]) == ("in_evaluation", None, None)
    assert "award_winner" not in listing.text and secret not in listing.text
    by_status = await client.get("/cases", params={"call_id": str(call_id), "status": "in_evaluation"}, headers=ALICE)
    assert [c["id"] for c in by_status.json()["items"]] == [str(case_id)]
    by_status = await client.get("/cases", params={"call_id": str(call_id), "status": "decided"}, headers=ALICE)
    assert by_status.json()["total"] == 0
    refused = await client.post(f"/cases/{case_id}/revisions", json={"change_note": "x"}, headers=ALICE)
    assert refused.status_code == 409
    assert "'in_evaluation'" in refused.json()["message"] and "decided" not in refused.text

    # Publication releases the outcome and the jury's feedback.
    published = await produce(
        producer,
        ResultsPublishedV1(
            case_id=case_id, call_id=call_id, outcome=AwardOutcome.AWARD_WINNER, feedback="Changed: the winner."
        ),
        case_id=case_id,
    )
    await eventually(lambda: handled(published.id), what="the publication to be handled")
    released = (await client.get(f"/cases/{case_id}", headers=ALICE)).json()
    assert (released["status"], released["outcome"], released["feedback"]) == (
        "published",
        "award_winner",
        "Changed: the winner.",
    )
    assert [t["kind"] for t in released["timeline"]] == [
        "submitted",
        "evaluation_opened",
        "results_published",
    ]
    assert released["timeline"][-1]["details"] == {"outcome": "award_winner", "feedback": "Changed: the winner."}
    assert secret not in str(released) and "4.25" not in str(released)  # the superseded decision, score, rank
    assert (await client.get(f"/cases/{case_id}", headers=OPERATOR)).json()["status"] == "published"
    refused = await client.post(f"/cases/{case_id}/withdraw", headers=ALICE)
    assert refused.status_code == 409 and "'published'" in refused.json()["message"]


async def test_a_submitter_may_withdraw_a_case_decided_under_embargo(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, db: asyncpg.Connection
) -> None:
    """Refusing would tell them it is decided; awards closes the evaluation, so it is never published."""
    call = await new_call(client)
    case = await new_case(client, call["id"])
    case_id = uuid.UUID(case["id"])
    decided = await produce(
        producer,
        AwardDecidedV1(
            case_id=case_id,
            call_id=uuid.UUID(call["id"]),
            outcome=AwardOutcome.NOT_AWARDED,
            weighted_score=1.0,
            feedback="Not this time.",
        ),
        case_id=case_id,
    )

    async def handled() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", decided.id))

    await eventually(handled, what="the decision to be handled")
    r = await client.post(f"/cases/{case_id}/withdraw", json={"reason": "merged"}, headers=ALICE)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["outcome"], r.json()["feedback"]) == ("withdrawn", None, None)
    assert "Not this time." not in r.text and '"kind":"decided"' not in r.text

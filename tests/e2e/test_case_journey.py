"""One innovation case travels intake → review → awards → notify, over HTTP only.

The four services run as separate processes against the real Kafka broker and
PostgreSQL (see conftest.py); emails land in an SMTP sink.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from deploy import demo
from tests.e2e.steps import JUROR_A, JUROR_B, OPERATOR, REVIEWER, claim_task_of, ok
from tests.support.harness import auth, eventually

pytestmark = pytest.mark.e2e

SUBMITTER_EMAIL = "saara@example-city.fi"
SUBMITTER = auth("submitter", user="sub-e2e", org="org-city", lang="fi", email=SUBMITTER_EMAIL, name="Saara")
SAME_ORG_REVIEWER = auth("reviewer", user="rev-city", org="org-city")


async def case_status(http: httpx.AsyncClient, intake: str, case_id: str, wanted: str) -> dict[str, Any] | None:
    case = ok(await http.get(f"{intake}/cases/{case_id}", headers=SUBMITTER))
    return case if case["status"] == wanted else None


async def assert_never_offered(http: httpx.AsyncClient, review: str, case_id: str, reviewer: dict[str, str]) -> None:
    """Claim everything ``reviewer`` may take until the queue runs dry: never ``case_id``; then release it all."""
    held: list[str] = []
    try:
        while (response := await http.post(f"{review}/tasks/claim", headers=reviewer)).status_code == 200:
            task = response.json()
            assert task["case_id"] != case_id, "a reviewer was offered a case of their own organisation"
            held.append(task["task_id"])
        assert response.status_code == 204, response.text
        assert (await http.get(f"{review}/cases/{case_id}/iterations", headers=reviewer)).status_code == 404
    finally:
        for task_id in held:
            ok(await http.post(f"{review}/tasks/{task_id}/release", headers=reviewer))


async def test_case_travels_through_all_four_services(stack) -> None:
    intake, review, awards, notify = (stack.urls[s] for s in ("intake", "review", "awards", "notify"))
    async with httpx.AsyncClient(timeout=20) as http:
        # An operator opens a call and names its jury.
        now = datetime.now(UTC)
        call = ok(
            await http.post(
                f"{intake}/calls",
                headers=OPERATOR,
                json={
                    "title": f"Quality Innovation Award e2e {uuid.uuid4().hex[:6]}",
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                    "categories": ["public_sector", "health_care"],
                    "languages": ["fi", "en"],
                },
            ),
            201,
        )
        # Intake owns the call: its criteria change there, and awards learns the call and its criteria from
        # intake's announcements (it knows no call before that).
        criteria = [
            {"key": "impact", "name": "Impact", "weight": 2, "description": "The measured effect on residents."},
            {"key": "scalability", "name": "Scalability", "weight": 1, "description": "How far others can adopt it."},
        ]
        changed = ok(await http.patch(f"{intake}/calls/{call['id']}", headers=OPERATOR, json={"criteria": criteria}))
        assert changed["revision"] == 2

        async def awards_criteria() -> list[str] | None:
            response = await http.get(f"{awards}/calls/{call['id']}/criteria", headers=OPERATOR)
            keys = [c["key"] for c in ok(response)["criteria"]] if response.status_code != 404 else []
            return keys if keys == ["impact", "scalability"] else None

        await eventually(awards_criteria, timeout=60, what="awards learning the call's revision 2")
        ok(
            await http.put(
                f"{awards}/calls/{call['id']}/jury",
                headers=OPERATOR,
                json={
                    "jurors": [
                        {"user_id": "juror-a", "name": "Juror A", "organisation_id": "org-jury-a", "conflicts": []},
                        {"user_id": "juror-b", "name": "Juror B", "organisation_id": "org-jury-b", "conflicts": []},
                        {"user_id": "juror-c", "name": "Juror C", "organisation_id": "org-city", "conflicts": []},
                    ],
                    "jurors_per_case": 2,
                },
            )
        )

        # A submitter files a case. Its organisation is their token's: a body naming another is refused, so the
        # conflict-of-interest rules below cannot be sidestepped.
        body = {
            "call_id": call["id"],
            "title": "Chatbot for building permits",
            "summary": "A multilingual assistant that guides residents through permit applications.",
            "problem": "Half of the permit applications arrive incomplete and bounce back and forth.",
            "solution": "A guided assistant checks the application together with the resident before filing.",
            "organisation": {"name": "Example City", "business_id": "0112038-9"},
            "team": [{"name": "Tiina Team", "email": "tiina@example-city.fi", "language": "fi"}],
            "category": "public_sector",
            "language": "fi",
            "oecd_principles": [1, 4],
            "iso_stage": "concept",
        }
        elsewhere = {**body, "organisation": {**body["organisation"], "id": "org-review"}}
        refused = await http.post(f"{intake}/cases", headers=SUBMITTER, json=elsewhere)
        assert refused.status_code == 422 and refused.json()["error"] == "organisation_not_yours", refused.text
        case = ok(await http.post(f"{intake}/cases", headers={**SUBMITTER, "Idempotency-Key": "e2e-1"}, json=body), 201)
        case_id = case["id"]
        assert case["status"] == "submitted" and case["organisation"]["id"] == "org-city"

        # Review opens iteration 1; a reviewer of the case's own organisation never gets it; another requests
        # changes with two unmet checklist items: two points.
        await eventually(lambda: case_status(http, intake, case_id, "in_review"), timeout=60, what="in review")
        await assert_never_offered(http, review, case_id, SAME_ORG_REVIEWER)
        task = await claim_task_of(http, review, case_id)
        assert task["iteration"] == 1 and task["earlier_iterations"] == []

        # Review learned the call from intake too, and shows it with the task.
        async def task_call() -> dict[str, Any] | None:
            shown: dict[str, Any] | None = ok(await http.get(f"{review}/tasks/{task['task_id']}", headers=REVIEWER))[
                "case"
            ]["call"]
            return shown if shown is not None and shown["revision"] == 2 else None

        shown = await eventually(task_call, timeout=60, what="review learning the call")
        assert shown["title"] == call["title"] and shown["closes_at"] == changed["closes_at"]
        ok(
            await http.post(
                f"{review}/tasks/{task['task_id']}/decision",
                headers=REVIEWER,
                json={
                    "decision": "request_changes",
                    "comment": "Please add evidence of the incomplete applications.",
                    "feedback": [
                        {"checklist_item": "solution concept is described", "met": True},
                        {"checklist_item": "users involved in shaping the concept", "met": False, "comment": "How?"},
                        {"checklist_item": "main risks identified", "met": False, "comment": "No risks named."},
                    ],
                },
            )
        )
        await eventually(
            lambda: case_status(http, intake, case_id, "changes_requested"), timeout=60, what="changes requested"
        )

        # The submitter reads the feedback typed: in review's history of their case and at intake, their home.
        history = ok(await http.get(f"{review}/cases/{case_id}/iterations", headers=SUBMITTER))
        [iteration_1] = history["items"]
        assert iteration_1["decisions"] == [], "the submitter does not see who decided what"
        assert [(f["checklist_item"], f["status"]) for f in iteration_1["feedback"]] == [
            ("solution concept is described", None),
            ("users involved in shaping the concept", "open"),
            ("main risks identified", "open"),
        ]
        points = ok(await http.get(f"{intake}/cases/{case_id}/feedback", headers=SUBMITTER))
        assert points["open"] == 2
        users_point, risks_point = (p["point_id"] for p in points["items"])
        assert [p["point_id"] for p in history["points"]] == [users_point, risks_point]

        # The submitter revises, addressing the users point; review opens iteration 2.
        ok(
            await http.post(
                f"{intake}/cases/{case_id}/revisions",
                headers=SUBMITTER,
                json={
                    "problem": "In 2025, 52 % of 4 100 permit applications arrived incomplete (city statistics).",
                    "change_note": "Added evidence; residents tested the assistant in two workshops.",
                    "addresses": [users_point],
                },
            )
        )
        # The next reviewer sees iteration 1, its points, which one is addressed and which remains open.
        task = await claim_task_of(http, review, case_id)
        assert task["iteration"] == 2
        assert [(p["point_id"], p["status"], p["addressed_in_revision"]) for p in task["points"]] == [
            (users_point, "addressed", 2),
            (risks_point, "open", None),
        ]
        [earlier] = task["earlier_iterations"]
        assert earlier["outcome"] == "request_changes" and earlier["decisions"][0]["reviewer_id"] == "rev-1"
        assert task["revisions"][0]["addressed_points"] == [users_point]
        ok(
            await http.post(
                f"{review}/tasks/{task['task_id']}/decision",
                headers=REVIEWER,
                json={"decision": "nominate", "comment": "Well evidenced; nominated for the award."},
            )
        )

        # Awards opens the evaluation with the two jurors who have no conflict; both score.
        async def assignment(juror: dict[str, str]) -> dict[str, Any] | None:
            page = ok(await http.get(f"{awards}/assignments", headers=juror))
            return next((a for a in page["items"] if a["case"]["case_id"] == case_id), None)

        # A juror reads the whole case: the revised content, the review history with its points, the criteria.
        async def whole_case() -> dict[str, Any] | None:
            found = await assignment(JUROR_A)
            complete = found and found["content"] and found["content"]["revision"] == 2
            return (
                found
                if complete
                and [r["outcome"] for r in found["review_history"]]
                == [
                    "changes_requested",
                    "nominated",
                ]
                else None
            )

        dossier = await eventually(whole_case, timeout=60, what="the whole case for juror A")
        assert dossier["content"]["problem"].startswith("In 2025, 52 %")
        assert dossier["content"]["team"] == [{"name": "Tiina Team", "role": None}]
        assert (dossier["content"]["oecd_principles"], dossier["content"]["iso_stage"]) == ([1, 4], "concept")
        assert "@" not in str(dossier), "jurors read no contact data"
        assert [(f["point_id"], f["status"]) for f in dossier["review_history"][0]["feedback"]] == [
            (None, None),
            (users_point, "addressed"),
            (risks_point, "open"),
        ]
        assert dossier["review_history"][1]["comment"] == "Well evidenced; nominated for the award."
        assert all(c["description"] for c in dossier["criteria"])
        juror_c = auth("juror", user="juror-c", org="org-city")
        assert (await http.get(f"{awards}/assignments/{case_id}", headers=juror_c)).status_code == 404

        for juror, points in ((JUROR_A, 4), (JUROR_B, 5)):
            assigned = await eventually(lambda j=juror: assignment(j), timeout=60, what="juror assignment")
            scores = [{"criterion": c["key"], "score": points, "comment": "Solid."} for c in assigned["criteria"]]
            assert [s["criterion"] for s in scores] == ["impact", "scalability"]  # the call's, from intake
            ok(await http.put(f"{awards}/evaluations/{case_id}/scores", headers=juror, json={"scores": scores}))
        assert (
            ok(await http.get(f"{awards}/assignments", headers=auth("juror", user="juror-c", org="org-city")))["items"]
            == []
        ), "a juror from the case's own organisation is never assigned"

        # An operator decides.
        decision = ok(
            await http.post(
                f"{awards}/evaluations/{case_id}/decision",
                headers=OPERATOR,
                json={"outcome": "award_winner", "feedback": "A clear, measurable improvement for residents."},
            )
        )
        assert decision["weighted_score"] == pytest.approx(4.5)

        # The operator publishes the call's results: the submitter learns the outcome and the jury's feedback
        # (tests/e2e/test_results_embargo.py: nothing of it before).
        assert ok(await http.post(f"{awards}/calls/{call['id']}/results/publish", headers=OPERATOR)) == {
            "call_id": call["id"],
            "published": [case_id],
        }

        # Intake shows the final status and the whole story, as the submitter may see it.
        final = await eventually(lambda: case_status(http, intake, case_id, "published"), timeout=60, what="published")
        assert final["outcome"] == "award_winner"
        assert final["feedback"] == "A clear, measurable improvement for residents."
        assert final["revision"] == 2
        kinds = [entry["kind"] for entry in final["timeline"]]
        expected = [
            "submitted",
            "iteration_opened",
            "changes_requested",
            "revised",
            "iteration_opened",
            "nominated",
            "evaluation_opened",
            "results_published",
        ]
        assert [k for k in kinds if k in expected] == expected, kinds

        # Notify has emailed the submitter at each step, in Finnish.
        def mails() -> list[Any]:
            return [m for m in stack.mailbox.to(SUBMITTER_EMAIL) if m["X-Kipina-Case-Id"] == case_id]

        async def all_mails() -> list[Any] | None:
            found = mails()
            return found if len(found) >= 5 else None

        received = await eventually(all_mails, timeout=60, what="the submitter's emails")
        templates = sorted(str(m["X-Kipina-Template"]) for m in received)
        assert templates == sorted(
            ["case_submitted", "changes_requested", "revision_received", "case_nominated", "results_published"]
        ), templates
        results_mail = next(m for m in received if m["X-Kipina-Template"] == "results_published")
        text = results_mail.get_content()
        assert "palkinnon voittaja" in text
        assert "A clear, measurable improvement for residents." in text
        assert "Chatbot for building permits" in text

        # The team heard about the result too, and each delivery is logged in notify.
        async def team_told() -> bool:
            return any(
                m["X-Kipina-Case-Id"] == case_id and m["X-Kipina-Template"] == "results_published"
                for m in stack.mailbox.to("tiina@example-city.fi")
            )

        await eventually(team_told, timeout=60, what="the team's results email")
        deliveries = ok(await http.get(f"{notify}/cases/{case_id}/deliveries", headers=OPERATOR))
        delivered = [d for d in deliveries["items"] if d["channel"] == "email" and d["status"] == "delivered"]
        assert len(delivered) >= 5

        # A retried submission with the same Idempotency-Key returns the same case, and
        # nobody else can read the case.
        again = await http.post(f"{intake}/cases", headers={**SUBMITTER, "Idempotency-Key": "e2e-1"}, json=body)
        assert again.status_code == 200 and again.json()["id"] == case_id
        stranger = auth("submitter", user="someone-else", org="org-other", email="x@example.org")
        assert (await http.get(f"{intake}/cases/{case_id}", headers=stranger)).status_code == 404


async def test_the_demo_data_loads_and_loads_again(stack) -> None:
    """`make up`'s demo loader creates a call in intake and names its jury in awards, which must learn the call
    first; a second run (a restarted stack) finds everything in place."""
    tok = demo.tokens()
    first = await asyncio.to_thread(demo.load_demo_data, stack.urls, tok)
    again = await asyncio.to_thread(demo.load_demo_data, stack.urls, tok)
    assert again == first
    async with httpx.AsyncClient(timeout=20) as http:
        jury = ok(await http.get(f"{stack.urls['awards']}/calls/{first['call_id']}/jury", headers=OPERATOR))
        assert [j["user_id"] for j in jury["jurors"]] == ["demo-juror-1", "demo-juror-2"]
        criteria = ok(await http.get(f"{stack.urls['awards']}/calls/{first['call_id']}/criteria", headers=OPERATOR))
        assert criteria["source"] == "call" and len(criteria["criteria"]) == 5

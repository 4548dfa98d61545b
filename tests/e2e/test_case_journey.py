"""One innovation case travels intake → review → awards → notify, over HTTP only.

The four services run as separate processes against the real Kafka broker and
PostgreSQL (see conftest.py); emails land in an SMTP sink.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.steps import JUROR_A, JUROR_B, OPERATOR, REVIEWER, claim_task_of, ok, score_as
from tests.support.harness import auth, eventually

pytestmark = pytest.mark.e2e

SUBMITTER_EMAIL = "saara@example-city.fi"
SUBMITTER = auth("submitter", user="sub-e2e", org="org-city", lang="fi", email=SUBMITTER_EMAIL, name="Saara")


async def case_status(http: httpx.AsyncClient, intake: str, case_id: str, wanted: str) -> dict[str, Any] | None:
    case = ok(await http.get(f"{intake}/cases/{case_id}", headers=SUBMITTER))
    return case if case["status"] == wanted else None


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

        # A submitter files a case.
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
        case = ok(await http.post(f"{intake}/cases", headers={**SUBMITTER, "Idempotency-Key": "e2e-1"}, json=body), 201)
        case_id = case["id"]
        assert case["status"] == "submitted"

        # Review opens iteration 1; a reviewer requests changes.
        await eventually(lambda: case_status(http, intake, case_id, "in_review"), timeout=60, what="in review")
        task = await claim_task_of(http, review, case_id)
        assert task["iteration"] == 1
        ok(
            await http.post(
                f"{review}/tasks/{task['task_id']}/decision",
                headers=REVIEWER,
                json={"decision": "request_changes", "comment": "Please add evidence of the incomplete applications."},
            )
        )
        await eventually(
            lambda: case_status(http, intake, case_id, "changes_requested"), timeout=60, what="changes requested"
        )

        # The submitter revises; review opens iteration 2; the reviewer nominates.
        ok(
            await http.post(
                f"{intake}/cases/{case_id}/revisions",
                headers=SUBMITTER,
                json={
                    "problem": "In 2025, 52 % of 4 100 permit applications arrived incomplete (city statistics).",
                    "change_note": "Added evidence.",
                },
            )
        )
        task = await claim_task_of(http, review, case_id)
        assert task["iteration"] == 2
        ok(
            await http.post(
                f"{review}/tasks/{task['task_id']}/decision",
                headers=REVIEWER,
                json={"decision": "nominate", "comment": "Well evidenced; nominated for the award."},
            )
        )

        # Awards opens the evaluation with the two jurors who have no conflict; both score.
        await score_as(http, awards, case_id, JUROR_A, 4)
        await score_as(http, awards, case_id, JUROR_B, 5)
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
            "kipina.review.iteration_opened.v1",
            "kipina.review.changes_requested.v1",
            "revised",
            "kipina.review.iteration_opened.v1",
            "kipina.review.nominated.v1",
            "kipina.award.evaluation_opened.v1",
            "kipina.award.results_published.v1",
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
            ["case_submitted", "changes_requested", "case_nominated", "evaluation_opened", "results_published"]
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

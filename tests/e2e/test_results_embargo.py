"""Results stay secret until they are published, on every channel a submitter has, across the four processes.

A case is decided, and its decision changed; until the operator publishes the call's results, nothing of the
jury's decision reaches the submitter, the team or the partners: not the case API (status, outcome, feedback),
not the timeline, not email, not the in-app feed, not a webhook. Publication releases the decision as it stands
last; after it, the decision can no longer change.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import OPERATOR_EMAIL, Stack
from tests.e2e.steps import JUROR_A, JUROR_B, OPERATOR, REVIEWER, awards_knows_call, claim_task_of, ok, score_as
from tests.support.harness import auth, eventually
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

SUBMITTER_EMAIL = "sofia@example-town.fi"
TEAM_EMAIL = "teemu@example-town.fi"
PARTNER_EMAIL = "pat@partner.example"
SUBMITTER = auth("submitter", user="sub-embargo", org="org-town", lang="sv", email=SUBMITTER_EMAIL, name="Sofia")

FIRST_FEEDBACK = "First thoughts of the jury [embargo-7f3a]"  # superseded before publication: never released
FINAL_FEEDBACK = "The jury's final word [embargo-c41d]"
DECIDED = "kipina.award.decided.v1"
PUBLISHED = "kipina.award.results_published.v1"


class SubmitterSide:
    """Everything of one case that reaches its submitter, team and partners, by every channel."""

    def __init__(self, http: httpx.AsyncClient, stack: Stack, webhooks: WebhookReceiver, case_id: str) -> None:
        self.http, self.stack, self.webhooks, self.case_id = http, stack, webhooks, case_id

    async def case(self) -> dict[str, Any]:
        return dict(ok(await self.http.get(f"{self.stack.urls['intake']}/cases/{self.case_id}", headers=SUBMITTER)))

    async def listed(self, **params: str) -> list[dict[str, Any]]:
        page = ok(await self.http.get(f"{self.stack.urls['intake']}/cases", params=params, headers=SUBMITTER))
        return [c for c in page["items"] if c["id"] == self.case_id]

    async def feed(self) -> list[dict[str, Any]]:
        page = ok(await self.http.get(f"{self.stack.urls['notify']}/feed", params={"limit": 200}, headers=SUBMITTER))
        return [i for i in page["items"] if i["case_id"] == self.case_id]

    def mails(self) -> list[EmailMessage]:
        people = (SUBMITTER_EMAIL, TEAM_EMAIL, PARTNER_EMAIL)
        return [
            m
            for m in self.stack.mailbox.messages
            if m["X-Kipina-Case-Id"] == self.case_id and any(p in str(m["To"]) for p in people)
        ]

    def hooks(self) -> list[dict[str, Any]]:
        return self.webhooks.events(subject=self.case_id)

    async def everything(self) -> str:
        """All of it as one text, to look for what must not be there."""
        parts = [
            json.dumps(await self.case()),
            json.dumps(await self.listed()),
            json.dumps(await self.feed()),
            *(m.as_string() for m in self.mails()),
            *(json.dumps(h) for h in self.hooks()),
        ]
        return "\n".join(parts)


async def settled_deliveries(http: httpx.AsyncClient, notify: str, case_id: str) -> list[dict[str, Any]] | None:
    """The case's deliveries once none is waiting or being sent: every email and webhook POST has been made."""
    items: list[dict[str, Any]] = ok(
        await http.get(f"{notify}/cases/{case_id}/deliveries", params={"limit": 200}, headers=OPERATOR)
    )["items"]
    return items if items and all(d["status"] in ("delivered", "failed") for d in items) else None


async def test_results_stay_secret_until_published(stack: Stack, webhook_receiver: WebhookReceiver) -> None:
    intake, review, awards, notify = (stack.urls[s] for s in ("intake", "review", "awards", "notify"))
    async with httpx.AsyncClient(timeout=20) as http:
        # An agency's system subscribes to every event; award decisions it may not have at all.
        refused = await http.post(
            f"{notify}/webhooks",
            headers=OPERATOR,
            json={"url": webhook_receiver.url, "secret": "agency-secret-0123", "event_types": [DECIDED]},
        )
        assert refused.status_code == 422 and "embargoed" in refused.json()["message"]
        hook = ok(
            await http.post(
                f"{notify}/webhooks",
                headers=OPERATOR,
                json={"url": webhook_receiver.url, "secret": "agency-secret-0123"},
            ),
            201,
        )

        # A call with a two-juror panel; a case with a team and a partner, nominated in its first iteration.
        now = datetime.now(UTC)
        call = ok(
            await http.post(
                f"{intake}/calls",
                headers=OPERATOR,
                json={
                    "title": f"Quality Innovation Award embargo {uuid.uuid4().hex[:6]}",
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                    "categories": ["public_sector"],
                    "languages": ["fi", "sv", "en"],
                },
            ),
            201,
        )
        jurors = [
            {"user_id": "juror-a", "name": "Juror A", "organisation_id": "org-jury-a"},
            {"user_id": "juror-b", "name": "Juror B", "organisation_id": "org-jury-b"},
        ]
        await awards_knows_call(http, awards, call["id"])
        ok(await http.put(f"{awards}/calls/{call['id']}/jury", headers=OPERATOR, json={"jurors": jurors}))
        case = ok(
            await http.post(
                f"{intake}/cases",
                headers=SUBMITTER,
                json={
                    "call_id": call["id"],
                    "title": "Snow-clearing route planner",
                    "summary": "Residents see in real time when their street will be cleared of snow.",
                    "problem": "The help desk gets thousands of calls on every snowy morning.",
                    "solution": "Route data from the ploughs is published on a map the residents can follow.",
                    "organisation": {"name": "Example Town", "business_id": "0112038-9"},
                    "team": [{"name": "Teemu", "email": TEAM_EMAIL, "language": "fi"}],
                    "partners": [{"name": "Pat", "email": PARTNER_EMAIL, "language": "en"}],
                    "category": "public_sector",
                    "language": "sv",
                    "oecd_principles": [1, 2],
                    "iso_stage": "solution",
                },
            ),
            201,
        )
        case_id = case["id"]
        side = SubmitterSide(http, stack, webhook_receiver, case_id)
        task = await claim_task_of(http, review, case_id)
        ok(
            await http.post(
                f"{review}/tasks/{task['task_id']}/decision",
                headers=REVIEWER,
                json={"decision": "nominate", "comment": "Ready for the jury."},
            )
        )
        await score_as(http, awards, case_id, JUROR_A, 3)
        await score_as(http, awards, case_id, JUROR_B, 4)

        async def operators_told(outcome_label: str, count: int) -> list[EmailMessage] | None:
            told = [
                m
                for m in stack.mailbox.to(OPERATOR_EMAIL)
                if m["X-Kipina-Case-Id"] == case_id and m["X-Kipina-Template"] == "award_decided"
            ]
            return told if len(told) == count and outcome_label in str(told[-1]["Subject"]) else None

        async def operator_sees(outcome: str) -> dict[str, Any] | None:
            seen = ok(await http.get(f"{intake}/cases/{case_id}", headers=OPERATOR))
            return seen if (seen["status"], seen["outcome"]) == ("decided", outcome) else None

        async def nothing_leaked() -> None:
            """Asked once intake and notify have handled the latest decision and every delivery was made."""
            mine = await side.case()
            assert (mine["status"], mine["outcome"], mine["feedback"]) == ("in_evaluation", None, None)
            assert "decided" not in [t["kind"] for t in mine["timeline"]]
            (listed,) = await side.listed()
            assert (listed["status"], listed["outcome"], listed["feedback"]) == ("in_evaluation", None, None)
            assert await side.listed(status="in_evaluation") and not await side.listed(status="decided")
            assert sorted(i["template"] for i in await side.feed()) == ["case_nominated", "case_submitted"]
            assert {str(m["X-Kipina-Template"]) for m in side.mails()} <= {"case_submitted", "case_nominated"}
            assert {h["type"] for h in side.hooks()} <= {
                "kipina.case.submitted.v1",
                "kipina.review.iteration_opened.v1",
                "kipina.review.nominated.v1",
                "kipina.award.evaluation_opened.v1",
            }
            everything = await side.everything()
            for secret in (FIRST_FEEDBACK, FINAL_FEEDBACK, "decided", "weighted_score", "rank_in_category"):
                assert secret not in everything, secret
            assert (await http.get(f"{notify}/cases/{case_id}/deliveries", headers=SUBMITTER)).status_code == 403

        # The jury decides: operators know at once, the submitter's side nothing.
        ok(
            await http.post(
                f"{awards}/evaluations/{case_id}/decision",
                headers=OPERATOR,
                json={"outcome": "finalist", "feedback": FIRST_FEEDBACK},
            )
        )
        await eventually(lambda: operator_sees("finalist"), timeout=60, what="intake to record the decision")
        await eventually(lambda: operators_told("finalist", 1), timeout=60, what="notify to handle the decision")
        await eventually(lambda: settled_deliveries(http, notify, case_id), timeout=60, what="deliveries settled")
        await nothing_leaked()

        # The decision changes before publication: replaced, and still secret.
        changed = ok(
            await http.post(
                f"{awards}/evaluations/{case_id}/decision",
                headers=OPERATOR,
                json={"outcome": "award_winner", "feedback": FINAL_FEEDBACK},
            )
        )
        assert changed["outcome"] == "award_winner" and changed["feedback"] == FINAL_FEEDBACK
        await eventually(lambda: operator_sees("award_winner"), timeout=60, what="intake to record the change")
        await eventually(lambda: operators_told("award winner", 2), timeout=60, what="notify to handle the change")
        await eventually(lambda: settled_deliveries(http, notify, case_id), timeout=60, what="deliveries settled")
        await nothing_leaked()

        # Publication releases the decision as it stands, to everyone, in their language.
        published = ok(await http.post(f"{awards}/calls/{call['id']}/results/publish", headers=OPERATOR))
        assert published["published"] == [case_id]

        async def released() -> dict[str, Any] | None:
            mine = await side.case()
            return mine if mine["status"] == "published" else None

        mine = await eventually(released, timeout=60, what="the submitter to see the published result")
        assert (mine["outcome"], mine["feedback"]) == ("award_winner", FINAL_FEEDBACK)
        entry = mine["timeline"][-1]
        assert entry["kind"] == "results_published" and entry["details"] == {
            "outcome": "award_winner",
            "feedback": FINAL_FEEDBACK,
        }
        (listed,) = await side.listed(status="published")
        assert (listed["outcome"], listed["feedback"]) == ("award_winner", FINAL_FEEDBACK)

        async def results_mails() -> dict[str, EmailMessage] | None:
            found = {
                m["To"].addresses[0].addr_spec: m for m in side.mails() if m["X-Kipina-Template"] == "results_published"
            }
            return found if len(found) == 3 else None

        mails = await eventually(results_mails, timeout=60, what="the results emails")
        assert "vinnare av utmärkelsen" in str(mails[SUBMITTER_EMAIL]["Subject"])  # Swedish, her language
        assert "palkinnon voittaja" in str(mails[TEAM_EMAIL]["Subject"])
        assert "award winner" in str(mails[PARTNER_EMAIL]["Subject"])
        assert all(FINAL_FEEDBACK in m.get_content() for m in mails.values())

        await eventually(lambda: settled_deliveries(http, notify, case_id), timeout=60, what="deliveries settled")
        (item,) = [i for i in await side.feed() if i["template"] == "results_published"]
        assert FINAL_FEEDBACK in item["body"] and "vinnare av utmärkelsen" in item["title"]
        (hooked,) = [h for h in side.hooks() if h["type"] == PUBLISHED]
        assert hooked["data"]["outcome"] == "award_winner" and hooked["data"]["feedback"] == FINAL_FEEDBACK
        assert [h["type"] for h in side.hooks()].count(DECIDED) == 0

        # The superseded decision, the score and the rank never reached the submitter's side.
        everything = await side.everything()
        for secret in (FIRST_FEEDBACK, "finalist", "weighted_score", "rank_in_category"):
            assert secret not in everything, secret

        # Published, the decision is final.
        late = await http.post(
            f"{awards}/evaluations/{case_id}/decision",
            headers=OPERATOR,
            json={"outcome": "not_awarded", "feedback": "Too late."},
        )
        assert late.status_code == 409, late.text
        assert late.json()["error"] == "results_published"
        assert "published" in late.json()["message"]
        evaluation = ok(await http.get(f"{awards}/evaluations/{case_id}", headers=OPERATOR))
        assert evaluation["status"] == "published" and evaluation["decision"]["outcome"] == "award_winner"

        ok(await http.delete(f"{notify}/webhooks/{hook['id']}", headers=OPERATOR), 204)

"""Every person in the loop hears what concerns them, exactly, and nothing of the result before publication.

One call, two submitters of different organisations (each with a team; one case has a partner), a reviewer,
three jurors and an operator, across the four processes. Four cases: one revised after requested changes and
awarded, one nominated straight away and given an honourable mention, one rejected, one withdrawn. Until the
operator publishes the call's results, no outcome reaches a submitter, team member or partner by any channel
(case API, timeline, email, feed, webhook); publication releases it all. At the end the SMTP sink holds, for
each person, exactly the messages docs/people.md lists — counted once every service's outbox is empty, notify
has read every topic to its end and has no delivery waiting.
"""

from __future__ import annotations

import collections
import json
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import registry, topics
from tests.e2e.conftest import OPERATOR_EMAIL, Stack
from tests.e2e.steps import OPERATOR, awards_knows_call, ok
from tests.support.harness import auth, eventually
from tests.support.kafka import produce
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

TAG = uuid.uuid4().hex[:6]


def person(role: str, key: str, *, org: str, lang: str, name: str) -> tuple[dict[str, str], str, str]:
    """A token for one person of this run, their user id and their address (unique to the run)."""
    user, email = f"{key}-{TAG}", f"{key}-{TAG}@people.example"
    return auth(role, user=user, org=org, lang=lang, email=email, name=name), user, email


CITY, TOWN = f"org-city-{TAG}", f"org-town-{TAG}"
S1, S1_ID, S1_MAIL = person("submitter", "saara", org=CITY, lang="fi", name="Saara")
S2, S2_ID, S2_MAIL = person("submitter", "sven", org=TOWN, lang="sv", name="Sven")
R, R_ID, R_MAIL = person("reviewer", "riikka", org=f"org-review-{TAG}", lang="en", name="Riikka")
J1, J1_ID, J1_MAIL = person("juror", "jaana", org=f"org-jury-a-{TAG}", lang="fi", name="Jaana")
J2, J2_ID, J2_MAIL = person("juror", "johan", org=f"org-jury-b-{TAG}", lang="sv", name="Johan")
J3, J3_ID, J3_MAIL = person("juror", "jill", org=TOWN, lang="en", name="Jill")  # conflicted with S2's cases
T1_MAIL, T2_MAIL, P1_MAIL = (f"{k}-{TAG}@people.example" for k in ("tiina", "tove", "pat"))

OUTCOME_WORDS = ("palkinnon voittaja", "award winner", "kunniamaininta", "hedersomnämnande", "honourable mention")


def case_body(
    call_id: str, title: str, *, language: str, team: list[dict[str, str]], partners: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "title": f"{title} {TAG}",
        "summary": "A service that residents can use without calling the office.",
        "problem": "Residents wait weeks for answers that a guided form could give at once.",
        "solution": "A guided form checks the request with the resident and routes it to the right desk.",
        "organisation": {"name": "Example", "business_id": "0112038-9"},
        "team": team,
        "partners": partners,
        "category": "public_sector",
        "language": language,
        "oecd_principles": [1],
        "iso_stage": "concept",
    }


class Journey:
    def __init__(self, http: httpx.AsyncClient, stack: Stack) -> None:
        self.http, self.stack = http, stack
        self.intake, self.review, self.awards, self.notify = (
            stack.urls[s] for s in ("intake", "review", "awards", "notify")
        )
        self.cases: dict[str, str] = {}  # name → case id

    def mails_to(self, address: str, *, template: str | None = None, case: str | None = None) -> list[EmailMessage]:
        found = [m for m in self.stack.mailbox.messages if address in str(m["To"])]
        if template is not None:
            found = [m for m in found if m["X-Kipina-Template"] == template]
        if case is not None:
            found = [m for m in found if m["X-Kipina-Case-Id"] == self.cases[case]]
        return found

    async def told(self, address: str, template: str, count: int, *, case: str | None = None) -> None:
        async def enough() -> bool:
            return len(self.mails_to(address, template=template, case=case)) >= count

        await eventually(enough, timeout=90, what=f"{count} × {template} to {address}")

    async def status(self, name: str, submitter: dict[str, str], wanted: str) -> dict[str, Any] | None:
        case = ok(await self.http.get(f"{self.intake}/cases/{self.cases[name]}", headers=submitter))
        return case if case["status"] == wanted else None

    async def submit(self, name: str, submitter: dict[str, str], body: dict[str, Any]) -> str:
        case = ok(await self.http.post(f"{self.intake}/cases", headers=submitter, json=body), 201)
        self.cases[name] = case["id"]
        return str(case["id"])

    async def claim(self, wanted: set[str]) -> dict[str, Any]:
        """The reviewer's next task of this journey's cases (other tests' tasks go back to the queue)."""
        ids = {self.cases[n] for n in wanted}
        held: list[str] = []

        async def next_task() -> dict[str, Any] | None:
            response = await self.http.post(f"{self.review}/tasks/claim", headers=R)
            if response.status_code == 204:
                return None
            task: dict[str, Any] = ok(response)
            if task["case_id"] in ids:
                return task
            held.append(task["task_id"])
            return None

        try:
            return await eventually(next_task, timeout=90, what=f"a review task of {sorted(wanted)}")
        finally:
            for task_id in held:
                ok(await self.http.post(f"{self.review}/tasks/{task_id}/release", headers=R))

    async def decide(self, task: dict[str, Any], body: dict[str, Any]) -> None:
        ok(await self.http.post(f"{self.review}/tasks/{task['task_id']}/decision", headers=R, json=body))

    def name_of(self, case_id: str) -> str:
        return next(n for n, c in self.cases.items() if c == case_id)

    async def assignment(self, juror: dict[str, str], name: str) -> dict[str, Any] | None:
        page = ok(await self.http.get(f"{self.awards}/assignments", headers=juror))
        return next((a for a in page["items"] if a["case"]["case_id"] == self.cases[name]), None)

    async def score(self, juror: dict[str, str], name: str, points: int) -> None:
        assigned = await eventually(lambda: self.assignment(juror, name), timeout=90, what=f"assignment {name}")
        scores = [{"criterion": c["key"], "score": points} for c in assigned["criteria"]]
        ok(
            await self.http.put(
                f"{self.awards}/evaluations/{self.cases[name]}/scores", headers=juror, json={"scores": scores}
            )
        )

    async def settled(self, infra_env: dict[str, str]) -> bool:
        """Every service's outbox is empty, notify has read its topics to their end, and no delivery waits."""
        for url in self.stack.urls.values():
            if ok(await self.http.get(f"{url}/ops/status", headers=OPERATOR))["outbox"]["pending"]:
                return False
        if not await caught_up(infra_env["KIPINA_KAFKA_BOOTSTRAP"], self.stack.groups["notify"]):
            return False
        for status in ("pending", "sending"):
            page = ok(await self.http.get(f"{self.notify}/deliveries", params={"status": status}, headers=OPERATOR))
            if page["total"]:
                return False
        return True


async def caught_up(bootstrap: str, group: str) -> bool:
    """The consumer group has committed every partition of notify's topics up to their current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        names = (topics.INTAKE, topics.REVIEW, topics.AWARDS, topics.OPERATIONS)
        partitions = [TopicPartition(t, p) for t in names for p in range(registry.TOPIC_PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if ends[tp] and (committed or 0) < ends[tp]:
                return False
        return True
    finally:
        await consumer.stop()


async def test_every_person_hears_exactly_what_concerns_them(
    stack: Stack, webhook_receiver: WebhookReceiver, infra_env: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=20) as http:
        j = Journey(http, stack)
        hook = ok(
            await http.post(
                f"{j.notify}/webhooks",
                headers=OPERATOR,
                json={"url": webhook_receiver.url, "secret": "people-journey-secret", "event_types": []},
            ),
            201,
        )

        # The operator opens a call and names a jury of three, each with an address and a language.
        now = datetime.now(UTC)
        call = ok(
            await http.post(
                f"{j.intake}/calls",
                headers=OPERATOR,
                json={
                    "title": f"Municipal idea competition {TAG}",
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                    "categories": ["public_sector"],
                    "languages": ["fi", "sv", "en"],
                },
            ),
            201,
        )
        await awards_knows_call(http, j.awards, call["id"])
        jurors = [
            {
                "user_id": J1_ID,
                "name": "Jaana",
                "email": J1_MAIL,
                "language": "fi",
                "organisation_id": f"org-jury-a-{TAG}",
            },
            {
                "user_id": J2_ID,
                "name": "Johan",
                "email": J2_MAIL,
                "language": "sv",
                "organisation_id": f"org-jury-b-{TAG}",
            },
            {"user_id": J3_ID, "name": "Jill", "email": J3_MAIL, "language": "en", "organisation_id": TOWN},
        ]
        ok(
            await http.put(
                f"{j.awards}/calls/{call['id']}/jury", headers=OPERATOR, json={"jurors": jurors, "jurors_per_case": 2}
            )
        )

        # Two submitters of two organisations file a case each.
        await j.submit(
            "permits",
            S1,
            case_body(
                call["id"],
                "Permit guide",
                language="fi",
                team=[{"name": "Tiina", "email": T1_MAIL, "language": "fi"}],
                partners=[{"name": "Pat", "email": P1_MAIL, "language": "en"}],
            ),
        )
        await j.submit(
            "library",
            S2,
            case_body(
                call["id"],
                "Library lending",
                language="sv",
                team=[{"name": "Tove", "email": T2_MAIL, "language": "sv"}],
                partners=[],
            ),
        )
        for name, submitter in (("permits", S1), ("library", S2)):
            await eventually(
                lambda n=name, s=submitter: j.status(n, s, "in_review"), timeout=90, what=f"{name} in review"
            )

        # The reviewer takes both in turn. Each claim brings a reminder that the lease ends (the e2e stack
        # reminds as soon as a task is held: conftest.py); the reviewer acts once it arrived.
        claims = collections.Counter[str]()
        for _ in range(2):
            task = await j.claim({"permits", "library"})
            name = j.name_of(task["case_id"])
            claims[name] += 1
            await j.told(R_MAIL, "task_due_soon", claims[name], case=name)
            if name == "permits":
                await j.decide(
                    task,
                    {
                        "decision": "request_changes",
                        "comment": "Show who tested it.",
                        "feedback": [
                            {
                                "checklist_item": "users involved in shaping the concept",
                                "met": False,
                                "comment": "Who?",
                            },
                            {"checklist_item": "main risks identified", "met": False, "comment": "Risks?"},
                        ],
                    },
                )
            else:
                await j.decide(task, {"decision": "nominate", "comment": "Ready for the jury."})

        # Saara revises, answering one of the two points; the reviewer hears that the case was revised.
        await eventually(lambda: j.status("permits", S1, "changes_requested"), timeout=90, what="changes requested")
        points = ok(await http.get(f"{j.intake}/cases/{j.cases['permits']}/feedback", headers=S1))
        ok(
            await http.post(
                f"{j.intake}/cases/{j.cases['permits']}/revisions",
                headers=S1,
                json={"change_note": "Residents tested it.", "addresses": [points["items"][0]["point_id"]]},
            )
        )
        await j.told(R_MAIL, "changes_answered", 1, case="permits")
        (answered,) = j.mails_to(R_MAIL, template="changes_answered")
        assert "addresses 1 feedback point; 1 remains open" in answered.get_content()

        task = await j.claim({"permits"})
        claims["permits"] += 1
        await j.told(R_MAIL, "task_due_soon", claims["permits"], case="permits")
        await j.decide(task, {"decision": "nominate", "comment": "Evidence added."})

        # Sven files a third case, which the reviewer rejects.
        await j.submit("kiosk", S2, case_body(call["id"], "Kiosk", language="sv", team=[], partners=[]))
        await eventually(lambda: j.status("kiosk", S2, "in_review"), timeout=90, what="kiosk in review")
        task = await j.claim({"kiosk"})
        claims["kiosk"] += 1
        await j.told(R_MAIL, "task_due_soon", 1, case="kiosk")
        await j.decide(task, {"decision": "reject", "comment": "Out of the call's scope."})

        # The jurors: Jill shares Sven's organisation, so she scores only Saara's case; Jaana and Johan the rest,
        # least loaded first. Each hears of each assignment, and (the e2e stack reminds at once) that it is due.
        expected_assignments = {J1_MAIL: 2, J2_MAIL: 1, J3_MAIL: 1}
        for address, count in expected_assignments.items():
            await j.told(address, "jurors_assigned", count)
            await j.told(address, "scoring_due", count)
        assert {m["X-Kipina-Case-Id"] for m in j.mails_to(J3_MAIL, template="jurors_assigned")} == {j.cases["permits"]}
        (assigned_fi,) = j.mails_to(J1_MAIL, template="jurors_assigned", case="permits")
        assert assigned_fi["Subject"].startswith("Pisteytettävä hakemus")

        scored_by = {"permits": [], "library": []}  # type: dict[str, list[dict[str, str]]]
        for juror in (J1, J2, J3):
            for name in ("permits", "library"):
                if await j.assignment(juror, name) is not None:
                    scored_by[name].append(juror)
        assert [len(v) for v in scored_by.values()] == [2, 2]
        for name, points_given in (("permits", 5), ("library", 3)):
            for juror in scored_by[name]:
                await j.score(juror, name, points_given)

        # Every case of the call is scored: the operator hears it is ready to decide, once.
        async def ready_to_decide() -> list[EmailMessage] | None:
            found = [m for m in j.mails_to(OPERATOR_EMAIL, template="evaluation_complete") if TAG in str(m["Subject"])]
            return found or None

        (ready,) = await eventually(ready_to_decide, timeout=90, what="the call ready to decide")
        assert "2 cases wait for your decision" in ready.get_content()
        for name, outcome in (("permits", "award_winner"), ("library", "honourable_mention")):
            ok(
                await http.post(
                    f"{j.awards}/evaluations/{j.cases[name]}/decision",
                    headers=OPERATOR,
                    json={"outcome": outcome, "feedback": f"The jury on {name} [{TAG}]."},
                )
            )
            await j.told(OPERATOR_EMAIL, "award_decided", 1, case=name)
            (decided,) = j.mails_to(OPERATOR_EMAIL, template="award_decided", case=name)
            assert f" {TAG} – " in str(decided["Subject"]), decided["Subject"]  # names the case
        for address, count in expected_assignments.items():
            await j.told(address, "case_decided", count)

        for mail in j.mails_to(J1_MAIL, template="case_decided"):
            assert TAG in str(mail["Subject"]), mail["Subject"]

        # Before publication: nothing of the result on any channel of the submitters, teams and partners.
        public_people = (S1_MAIL, S2_MAIL, T1_MAIL, T2_MAIL, P1_MAIL)
        for name, submitter in (("permits", S1), ("library", S2)):
            case = ok(await http.get(f"{j.intake}/cases/{j.cases[name]}", headers=submitter))
            assert (case["status"], case["outcome"], case["feedback"]) == ("in_evaluation", None, None)
            assert "decided" not in [t["kind"] for t in case["timeline"]]
        for address in public_people:
            for mail in j.mails_to(address):
                assert mail["X-Kipina-Template"] != "results_published"
                assert not any(w in mail.get_content() for w in OUTCOME_WORDS), mail.as_string()
        for submitter in (S1, S2):
            feed = json.dumps(ok(await http.get(f"{j.notify}/feed", params={"limit": 200}, headers=submitter)))
            assert TAG + "]." not in feed and not any(w in feed for w in OUTCOME_WORDS)
        journey_cases = set(j.cases.values())
        hooks = [e for e in webhook_receiver.events() if e.get("subject") in journey_cases]
        assert not [e for e in hooks if e["type"] in ("kipina.award.decided.v1", "kipina.award.results_published.v1")]

        # Publication releases every decided case of the call at once.
        published = ok(await http.post(f"{j.awards}/calls/{call['id']}/results/publish", headers=OPERATOR))
        assert sorted(published["published"]) == sorted([j.cases["permits"], j.cases["library"]])
        for address, name in (
            (S1_MAIL, "permits"),
            (T1_MAIL, "permits"),
            (P1_MAIL, "permits"),
            (S2_MAIL, "library"),
            (T2_MAIL, "library"),
        ):
            await j.told(address, "results_published", 1, case=name)
        (saara_result,) = j.mails_to(S1_MAIL, template="results_published")
        assert (
            "palkinnon voittaja" in saara_result["Subject"]
            and f"The jury on permits [{TAG}]." in saara_result.get_content()
        )
        (sven_result,) = j.mails_to(S2_MAIL, template="results_published")
        assert "hedersomnämnande" in sven_result["Subject"]
        for name, submitter, outcome in (("permits", S1, "award_winner"), ("library", S2, "honourable_mention")):
            final = await eventually(
                lambda n=name, s=submitter: j.status(n, s, "published"), timeout=90, what="published"
            )
            assert final["outcome"] == outcome

        # Saara files a fourth case and withdraws it.
        await j.submit("draft", S1, case_body(call["id"], "Draft", language="fi", team=[], partners=[]))
        ok(
            await http.post(
                f"{j.intake}/cases/{j.cases['draft']}/withdraw", headers=S1, json={"reason": "Filed too early."}
            )
        )
        await j.told(S1_MAIL, "withdrawal_confirmed", 1, case="draft")

        # A malformed message on intake's topic: review, awards and notify each dead-letter it and announce it;
        # the operators hear of each service's dead letters once.
        await produce(
            infra_env["KIPINA_KAFKA_BOOTSTRAP"], topics.INTAKE, key=f"junk-{TAG}".encode(), value=b"{not json"
        )
        await eventually(
            lambda: _async(len(j.mails_to(OPERATOR_EMAIL, template="dead_lettered")) >= 3),
            timeout=90,
            what="dead letters",
        )

        # Everything has settled: now each person's messages are exactly those listed in docs/people.md.
        await eventually(lambda: j.settled(infra_env), timeout=120, what="every outbox, topic and delivery settled")
        journey_cases = set(j.cases.values())
        expected: dict[str, list[str]] = {
            S1_MAIL: [
                "case_submitted",
                "changes_requested",
                "revision_received",
                "case_nominated",
                "results_published",
                "case_submitted",
                "withdrawal_confirmed",
            ],
            T1_MAIL: [
                "case_submitted",
                "changes_requested",
                "revision_received",
                "case_nominated",
                "results_published",
            ],
            P1_MAIL: ["results_published"],
            S2_MAIL: ["case_submitted", "case_nominated", "results_published", "case_submitted", "case_rejected"],
            T2_MAIL: ["case_submitted", "case_nominated", "results_published"],
            R_MAIL: ["task_due_soon"] * 4 + ["changes_answered"],
            J1_MAIL: ["jurors_assigned", "scoring_due", "case_decided"] * 2,
            J2_MAIL: ["jurors_assigned", "scoring_due", "case_decided"],
            J3_MAIL: ["jurors_assigned", "scoring_due", "case_decided"],
        }
        for address, templates in expected.items():
            received = [m for m in j.mails_to(address) if m["X-Kipina-Case-Id"] in journey_cases]
            assert sorted(str(m["X-Kipina-Template"]) for m in received) == sorted(templates), address
            # The reviewer may also be reminded of other tests' tasks it claimed and released while looking for
            # this journey's (the queue is shared); everybody else is this run's only.
            if address != R_MAIL:
                assert len(j.mails_to(address)) == len(received), f"{address} heard of something else"
        # The operators' address is the stack's: theirs are this journey's cases, this call, and the dead letters
        # (no other e2e test makes any).
        operator_mails = [
            str(m["X-Kipina-Template"])
            for m in j.mails_to(OPERATOR_EMAIL)
            if m["X-Kipina-Case-Id"] in journey_cases
            or m["X-Kipina-Template"] == "dead_lettered"
            or (m["X-Kipina-Template"] == "evaluation_complete" and TAG in str(m["Subject"]))
        ]
        assert sorted(operator_mails) == sorted(["award_decided"] * 2 + ["evaluation_complete"] + ["dead_lettered"] * 3)
        languages = {address: {str(m["Content-Language"]) for m in j.mails_to(address)} for address in expected}
        assert languages == {
            S1_MAIL: {"fi"},
            T1_MAIL: {"fi"},
            P1_MAIL: {"en"},
            S2_MAIL: {"sv"},
            T2_MAIL: {"sv"},
            R_MAIL: {"en"},
            J1_MAIL: {"fi"},
            J2_MAIL: {"sv"},
            J3_MAIL: {"en"},
        }

        # No webhook ever got a decision or an event addressed to a person; it got the published results.
        hooks = [e for e in webhook_receiver.events() if e.get("subject") in journey_cases]
        types = collections.Counter(e["type"] for e in hooks)
        assert types["kipina.award.results_published.v1"] == 2
        for never in (
            "kipina.award.decided.v1",
            "kipina.award.jurors_assigned.v1",
            "kipina.award.scoring_due.v1",
            "kipina.review.task_due_soon.v1",
            "kipina.review.changes_answered.v1",
        ):
            assert types[never] == 0, never
        ok(await http.delete(f"{j.notify}/webhooks/{hook['id']}", headers=OPERATOR), 204)


async def _async(value: object) -> object:
    return value

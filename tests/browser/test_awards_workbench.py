"""The awards workbenches in a real Chromium: the operator sets the jury, jurors score, the operator decides, publishes.

Awards runs on its own database and consumer group; its cases come from events really produced to the topics
it consumes (intake's announcement and submission, review's iterations and nomination), as the other services
would. Every wait is for a fact: an event handled (awards' inbox row) or a text on the page.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, expect

from shared.demo import PEOPLE
from shared.events import (
    QUALITY_INNOVATION_AWARD_CRITERIA,
    CallAnnouncedV1,
    CaseNominatedV1,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    ChangesRequestedV1,
    CloudEvent,
    Contact,
    EventPayload,
    FeedbackItem,
    IterationOpenedV1,
    Organisation,
)
from shared.vocabulary import Category, IsoStage, Language
from shared.web.i18n import Translator
from tests.browser.conftest import _free_port, screenshot
from tests.support.harness import eventually
from tests.support.infra import own_database, reset_database, unique_group
from tests.support.kafka import make_event, produce_event

OPERATOR = PEOPLE["operator"]
JUROR_1 = PEOPLE["juror-1"]  # Swedish
JUROR_2 = PEOPLE["juror-2"]  # English


@pytest.fixture(scope="module")
async def awards(infra_env: dict[str, str]) -> AsyncIterator[tuple[str, str]]:
    """Awards with its pages, running on a free port: (its URL, its database)."""
    database = await own_database(infra_env, "awards", "browser_awards")
    await reset_database(database)
    port = _free_port()
    env = {
        "KIPINA_DEV_SIGN_IN": "true",
        "KIPINA_AWARDS_DATABASE_URL": database,
        "KIPINA_AWARDS_CONSUMER_GROUP": unique_group("browser-awards"),
        "KIPINA_AWARDS_PORT": str(port),
        # Intake's pages link here.
        "KIPINA_AWARDS_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from services.awards.app import create

    server = uvicorn.Server(uvicorn.Config(create(), host="127.0.0.1", port=port, log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # a fact: uvicorn has run the lifespan and is listening
        if serving.done():
            serving.result()
            pytest.fail("awards stopped before it served")
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}", database
    server.should_exit = True
    await serving
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


async def _person(browser: Browser, base_url: str, person: dict[str, object]) -> tuple[BrowserContext, Page]:
    """A fresh browser signed in as the demo person (in their own language)."""
    context = await browser.new_context(base_url=base_url, viewport={"width": 1024, "height": 800})
    page = await context.new_page()
    await page.goto("/sign-in")
    await page.get_by_label(str(person["name"])).check()
    await page.get_by_role("button", name=re.compile("^(Kirjaudu sisään|Logga in|Sign in)$")).click()
    await page.wait_for_url(re.compile(r"/$"))
    return context, page


async def _produce_handled(infra_env: dict[str, str], database: str, payloads: list[tuple[EventPayload, str]]) -> None:
    """Produce each event as its service would, and wait until awards has handled them all."""
    events: list[CloudEvent] = []
    for payload, service in payloads:
        case = getattr(payload, "case", None)
        named = case.case_id if case is not None else getattr(payload, "case_id", None)
        subject = str(named or getattr(payload, "call_id", ""))
        event = make_event(payload, service=service, subject=subject)
        await produce_event(infra_env["KIPINA_KAFKA_BOOTSTRAP"], event, topic=payload.topic)
        events.append(event)

    async def all_handled() -> bool | None:
        conn = await asyncpg.connect(database)
        try:
            seen = await conn.fetchval(
                "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", [e.id for e in events]
            )
        finally:
            await conn.close()
        return int(seen) == len(events) or None

    await eventually(all_handled, timeout=60, what="awards handled the produced events")


def _snapshot(case_id: uuid.UUID, call_id: uuid.UUID, *, revision: int, problem: str, title: str) -> CaseSnapshot:
    return CaseSnapshot(
        case_id=case_id,
        call_id=call_id,
        call_title="Laatuinnovaatiopalkinto 2026",
        revision=revision,
        title=title,
        summary="Rakennusluvat päivässä kuukauden sijaan.",
        problem=problem,
        solution="Verkkopalvelu, joka tarkistaa hakemukset automaattisesti.",
        organisation=Organisation(id="org-espoo", name="Espoon kaupunki", business_id="0101263-6"),
        submitter_id="demo-submitter",
        submitter=Contact(name="Saara Submitter", email="saara@example-city.fi"),
        team=[Contact(name="Tiina Tiimi", email="tiina@example.org", role="palvelumuotoilija")],
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        oecd_principles=[1, 4],
        iso_stage=IsoStage.VALIDATION,
        drivers=["asiakastarpeet"],
        obstacles=["vanhat järjestelmät"],
    )


def _case_events(call_id: uuid.UUID, case_id: uuid.UUID, title: str) -> list[tuple[EventPayload, str]]:
    point = uuid.uuid4()
    due = datetime.now(UTC) + timedelta(days=3)
    return [
        (
            CaseSubmittedV1(
                case=_snapshot(case_id, call_id, revision=1, problem="Luvat kestävät viikkoja.", title=title)
            ),
            "intake",
        ),
        (
            IterationOpenedV1(
                case_id=case_id, call_id=call_id, iteration=1, revision=1, stage=IsoStage.VALIDATION, due_at=due
            ),
            "review",
        ),
        (
            ChangesRequestedV1(
                case_id=case_id,
                call_id=call_id,
                iteration=1,
                reviewer_ids=["demo-reviewer"],
                comment="Vaikuttavuuden näyttö puuttuu.",
                feedback=[FeedbackItem(checklist_item="evidence of results is presented", met=False, point_id=point)],
            ),
            "review",
        ),
        (
            CaseRevisedV1(
                case=_snapshot(
                    case_id, call_id, revision=2, problem="Luvat kestävät keskimäärin 31 päivää.", title=title
                ),
                change_note="lisätty tilastot",
                addressed_points=[point],
            ),
            "intake",
        ),
        (
            IterationOpenedV1(
                case_id=case_id, call_id=call_id, iteration=2, revision=2, stage=IsoStage.VALIDATION, due_at=due
            ),
            "review",
        ),
        (
            CaseNominatedV1(
                case_id=case_id,
                call_id=call_id,
                call_title="Laatuinnovaatiopalkinto 2026",
                iteration=2,
                reviewer_ids=["demo-reviewer"],
                comment="valmis tuomaristolle",
                title=title,
                summary="Rakennusluvat päivässä kuukauden sijaan.",
                category=Category.PUBLIC_SECTOR,
                language=Language.FI,
                organisation_id="org-espoo",
                organisation_name="Espoon kaupunki",
                stage=IsoStage.VALIDATION,
            ),
            "review",
        ),
    ]


async def _score_all(page: Page, value: str) -> None:
    for criterion in QUALITY_INNOVATION_AWARD_CRITERIA:
        await page.locator(f"#score-{criterion.key}").select_option(value)


async def test_operator_sets_the_jury_jurors_score_and_the_operator_decides_and_publishes(
    browser: Browser, awards: tuple[str, str], infra_env: dict[str, str]
) -> None:
    url, database = awards
    call_id = uuid.uuid4()
    now = datetime.now(UTC)
    announcement = CallAnnouncedV1(
        call_id=call_id,
        revision=1,
        title="Laatuinnovaatiopalkinto 2026",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
        categories=[Category.PUBLIC_SECTOR],
        languages=[Language.FI, Language.SV, Language.EN],
        reviewers_per_iteration=1,
        criteria=list(QUALITY_INNOVATION_AWARD_CRITERIA),
    )
    await _produce_handled(infra_env, database, [(announcement, "intake")])

    # The operator sets the jury: a bad email is refused with the API's message at its field.
    operator_context, operator = await _person(browser, url, OPERATOR)
    await operator.goto(f"/operator/calls/{call_id}")
    await expect(operator.get_by_role("heading", level=1)).to_have_text("The call's awards")
    for i, person in enumerate((JUROR_1, JUROR_2)):
        await operator.locator(f"[name='juror.{i}.user_id']").fill(str(person["user_id"]))
        await operator.locator(f"[name='juror.{i}.name']").fill(str(person["name"]))
        await operator.locator(f"[name='juror.{i}.organisation_id']").fill(str(person["organisation_id"]))
        await operator.locator(f"[name='juror.{i}.language']").select_option(str(person["language"]))
    await operator.locator("[name='juror.0.email']").evaluate("e => e.type = 'text'")
    await operator.locator("[name='juror.0.email']").fill("not-an-email")
    await operator.locator("#jurors_per_case").fill("2")
    await operator.get_by_role("button", name="Save the jury").click()
    email = operator.locator("[name='juror.0.email']")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(operator.locator("#juror-0-email-problem")).to_contain_text("not a valid email address")
    await screenshot(operator, "awards-operator-jury-refused")
    await email.fill(str(JUROR_1["email"]))
    await operator.get_by_role("button", name="Save the jury").click()
    await expect(operator.get_by_role("status")).to_have_text("Jury saved.")
    await expect(operator.locator("[name='juror.1.user_id']")).to_have_value(str(JUROR_2["user_id"]))

    # Two cases reach evaluation as review nominates them; both jurors are assigned to each.
    scored, recused = uuid.uuid4(), uuid.uuid4()
    await _produce_handled(
        infra_env,
        database,
        _case_events(call_id, scored, "Digitaaliset luvat") + _case_events(call_id, recused, "Kirjasto kotiin"),
    )

    juror_context, juror = await _person(browser, url, JUROR_1)
    await juror.goto("/juror")
    await expect(juror.get_by_role("heading", level=1)).to_have_text("Mina tilldelningar")
    await expect(juror.get_by_role("link", name="Digitaaliset luvat")).to_be_visible()
    await screenshot(juror, "awards-juror-assignments")
    await juror.get_by_role("link", name="Digitaaliset luvat").click()
    await expect(juror.get_by_text("Luvat kestävät keskimäärin 31 päivää.")).to_be_visible()
    # The review history in Swedish: the checklist item and the point's state in the juror's language.
    swedish = Translator(Language.SV)
    evidence = juror.get_by_text(swedish.label("checklist_item", "evidence of results is presented"))
    await expect(evidence).to_contain_text("åtgärdad i version")
    await expect(juror.get_by_text("palvelumuotoilija")).to_be_visible()

    # A score outside the scale (a tampered form) is refused with the API's message at that criterion.
    first = QUALITY_INNOVATION_AWARD_CRITERIA[0]
    await _score_all(juror, "4")
    await juror.locator(f"#score-{first.key}").evaluate(
        "s => { const o = document.createElement('option'); o.value = '99'; o.text = '99'; s.add(o); s.value = '99'; }"
    )
    await juror.get_by_label("Helhetsbedömning").fill("Ett starkt ärende.")
    await juror.get_by_role("button", name="Spara poängen").click()
    await expect(juror.locator(f"#score-{first.key}")).to_have_attribute("aria-invalid", "true")
    await expect(juror.locator(f"#score-{first.key}-problem")).to_have_text(
        f"criterion '{first.key}': score 99 is outside {first.scale_min}..{first.scale_max}"
    )
    await expect(juror.get_by_label("Helhetsbedömning")).to_have_value("Ett starkt ärende.")
    await screenshot(juror, "awards-juror-score-refused")
    await juror.locator(f"#score-{first.key}").select_option("5")
    await juror.get_by_role("button", name="Spara poängen").click()
    await expect(juror.get_by_role("status")).to_have_text("Dina poäng har sparats.")
    await expect(juror.locator(f"#score-{first.key}")).to_have_value("5")
    await screenshot(juror, "awards-juror-case")

    # The other case: a conflict needs a reason and the confirmation; then it leaves the juror's list.
    await juror.goto(f"/juror/cases/{recused}")
    await juror.get_by_role("button", name="Anmäl jäv").click()
    await expect(juror.locator("#reason-problem")).to_have_text("Ange en orsak.")
    await expect(juror.locator("#confirm-problem")).to_have_text("Bekräfta genom att kryssa i rutan.")
    await juror.get_by_label("Orsak till jäv").fill("Jag arbetade med teamet förra året.")
    await juror.get_by_role("checkbox").check()
    await juror.get_by_role("button", name="Anmäl jäv").click()
    await expect(juror.get_by_role("status")).to_have_text("Jävet registrerat; ärendet togs bort från din lista.")
    await expect(juror.get_by_role("link", name="Kirjasto kotiin")).to_have_count(0)
    await expect(juror.get_by_role("row", name=re.compile("Digitaaliset luvat"))).to_contain_text("Poängsatt")

    # A juror is refused the operator's page.
    response = await juror.goto(f"/operator/calls/{call_id}")
    assert response is not None and response.status == 403
    await expect(juror.get_by_role("alert")).to_contain_text("operatör")

    second_context, second = await _person(browser, url, JUROR_2)
    await second.goto(f"/juror/cases/{scored}")
    await _score_all(second, "3")
    await second.get_by_role("button", name="Save the scores").click()
    await expect(second.get_by_role("status")).to_have_text("Your scores are saved.")

    # The operator sees the leaderboard, decides, changes the decision, and publishes.
    await operator.goto(f"/operator/calls/{call_id}")
    board = operator.locator("#leaderboard")
    await expect(board.get_by_role("row", name=re.compile("Digitaaliset luvat"))).to_contain_text("2 / 2")
    case = operator.locator(f"#case-{scored}")
    await case.get_by_role("button", name="Decide").click()
    await expect(case.locator(f"[id='{scored}-feedback-problem']")).to_contain_text("at least 1 character")
    await case.get_by_label("Outcome").select_option("finalist")
    await case.get_by_label("Feedback for the submitter").fill("A strong case.")
    await case.get_by_role("button", name="Decide").click()
    await expect(operator.get_by_role("status")).to_have_text("Decision saved.")
    decision = operator.get_by_test_id(f"evaluation-{scored}")
    await expect(decision).to_have_text("Status: Decided · Outcome: Finalist")
    await case.get_by_label("Outcome").select_option("award_winner")
    await case.get_by_role("button", name="Change the decision").click()
    await expect(decision).to_have_text("Status: Decided · Outcome: Award winner")
    await screenshot(operator, "awards-operator-call")
    await operator.get_by_role("button", name="Publish the results").click()
    await expect(operator.locator("#publish-confirm-problem")).to_have_text("Confirm by ticking the box.")
    await operator.locator("#publish").get_by_role("checkbox").check()
    await operator.get_by_role("button", name="Publish the results").click()
    await expect(operator.get_by_role("status")).to_have_text("Results published.")
    await expect(decision).to_have_text("Status: Published · Outcome: Award winner")
    await expect(case.get_by_role("button")).to_have_count(0)
    for context in (operator_context, juror_context, second_context):
        await context.close()


async def test_an_operator_creates_a_call_on_intake_closes_it_and_sets_its_jury_on_awards(
    browser: Browser, awards: tuple[str, str], intake_url: str
) -> None:
    awards_url, _ = awards
    context, operator = await _person(browser, intake_url, OPERATOR)
    await operator.goto("/operator/calls")
    await expect(operator.get_by_role("heading", level=1)).to_have_text("Calls")
    title = f"Innovation call {uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)

    # Bad input: the API's messages at their fields, what was typed kept.
    await operator.get_by_label("Title").fill("ab")
    await operator.get_by_label("Opens (UTC)").fill((now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    await operator.get_by_label("Closes (UTC)").fill((now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    await operator.get_by_label("Reviewers per iteration (1–2)").fill("3")
    await operator.get_by_role("button", name="Create the call").click()
    await expect(operator.locator("#title-problem")).to_have_text("String should have at least 3 characters")
    await expect(operator.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    await expect(operator.locator("#categories-problem")).to_have_text(
        "List should have at least 1 item after validation, not 0"
    )
    await expect(operator.locator("#reviewers_per_iteration-problem")).to_have_text(
        "Input should be less than or equal to 2"
    )
    await screenshot(operator, "intake-operator-call-refused")
    await operator.get_by_label("Title").fill(title)
    await operator.get_by_label("Reviewers per iteration (1–2)").fill("1")
    await operator.get_by_label("Public sector").check()
    await operator.get_by_label("Finnish", exact=True).check()
    await operator.get_by_label("Swedish", exact=True).check()
    await operator.get_by_role("button", name="Create the call").click()
    await expect(operator.locator("#closes_at-problem")).to_have_text("closes_at must be after opens_at")
    await operator.get_by_label("Opens (UTC)").fill((now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    await operator.get_by_label("Closes (UTC)").fill((now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))
    await operator.get_by_role("button", name="Create the call").click()
    await expect(operator.get_by_role("status")).to_have_text("Call created and announced to the other services.")
    row = operator.get_by_role("row", name=re.compile(title))
    await expect(row).to_contain_text("Open")
    await screenshot(operator, "intake-operator-calls")

    # Close it now, then a window whose end comes before its start is refused at the field.
    await row.get_by_role("link", name=title).click()
    await operator.get_by_role("button", name="Close now").click()
    await expect(operator.get_by_role("status")).to_have_text("Window changed and announced to the other services.")
    await expect(operator.get_by_test_id("call-state")).to_have_text("Closed")
    await operator.get_by_label("Closes (UTC)").fill("2000-01-01T00:00")
    await operator.get_by_role("button", name="Save the window").click()
    await expect(operator.locator("#closes_at-problem")).to_have_text("closes_at must be after opens_at")
    await screenshot(operator, "intake-operator-call")

    # Its jury is set on awards' page, once awards has learned the call from intake's announcement.
    link = operator.get_by_role("link", name="Jury and results")
    href = await link.get_attribute("href")
    assert href is not None and href.startswith(awards_url)

    async def learned() -> bool | None:
        response = await operator.goto(href)
        return (response is not None and response.status == 200) or None

    await eventually(learned, timeout=60, what="awards learned the call from intake's announcement")
    await operator.locator("[name='juror.0.user_id']").fill(str(JUROR_2["user_id"]))
    await operator.locator("[name='juror.0.name']").fill(str(JUROR_2["name"]))
    await operator.locator("[name='juror.0.organisation_id']").fill(str(JUROR_2["organisation_id"]))
    await operator.get_by_role("button", name="Save the jury").click()
    await expect(operator.get_by_role("status")).to_have_text("Jury saved.")
    await context.close()


async def test_a_juror_is_refused_intakes_operator_pages(browser: Browser, intake_url: str) -> None:
    context, juror = await _person(browser, intake_url, JUROR_2)
    response = await juror.goto("/operator/calls")
    assert response is not None and response.status == 403
    await expect(juror.get_by_role("alert")).to_have_text("This page needs the role: operator. Your roles: juror.")
    await context.close()

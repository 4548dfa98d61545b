"""The whole journey, through the pages only, in a real Chromium: intake, review and awards all run in-process
against the real Kafka and PostgreSQL (each its own database and consumer group), and nothing is called or produced
by the test: every step is a person's click on a page, every wait is for what a page shows after a reload.

The operator creates a call (intake) and, once awards has learned it, sets a jury of two jurors (awards) → the
submitter signs in and submits in Finnish → the reviewer requests changes with the checklist → the submitter revises,
addressing the point → the reviewer nominates → both jurors score → the operator decides and publishes → the submitter
sees the outcome and the jury's feedback on their case page. Each person signs in on the development sign-in page in
a browser of their own (the session cookie is per host, so one sign-in serves all three services).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from services.review.domain import CHECKLISTS
from shared.demo import PEOPLE
from shared.events import QUALITY_INNOVATION_AWARD_CRITERIA
from shared.topics import INTAKE, REVIEW
from shared.vocabulary import IsoStage
from tests.browser.conftest import _free_port, _restore, screenshot, served
from tests.browser.test_reviewer_workbench import IN_FINNISH, _claim_task_of
from tests.browser.test_submitter_workbench import _fill_case, _reload_until
from tests.support.harness import eventually
from tests.support.infra import own_database, reset_database, unique_group
from tests.support.kafka import pin_group_to_end

OPERATOR, SUBMITTER, REVIEWER = PEOPLE["operator"], PEOPLE["submitter"], PEOPLE["reviewer"]
JUROR_1, JUROR_2 = PEOPLE["juror-1"], PEOPLE["juror-2"]  # Swedish and English, of two organisations
CONCEPT = CHECKLISTS[IsoStage.CONCEPT]


@pytest.fixture
async def awards_url(infra_env: dict[str, str], intake_url: str) -> AsyncIterator[str]:
    """Awards with its pages beside intake for one test, its consumer group at the end of the topics it reads, so it
    learns only the call and the case of this journey. Intake's pages link to it while it runs."""
    from services.awards.app import create

    database = await own_database(infra_env, "awards", "browser_journey_awards")
    await reset_database(database)
    group = unique_group("browser-journey-awards")
    await pin_group_to_end(infra_env["KIPINA_KAFKA_BOOTSTRAP"], group, [INTAKE, REVIEW])
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "KIPINA_DEV_SIGN_IN": "true",
        "KIPINA_AWARDS_DATABASE_URL": database,
        "KIPINA_AWARDS_CONSUMER_GROUP": group,
        "KIPINA_AWARDS_PORT": str(port),
        "KIPINA_AWARDS_PUBLIC_URL": url,  # read by intake's pages on each request
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        async with served(create(), port):
            yield url
    finally:
        _restore(saved)


async def _signed_in(browser: Browser, base_url: str, person: dict[str, object]) -> tuple[BrowserContext, Page]:
    """A fresh browser, signed in as the demo person on the development sign-in page (in their own language)."""
    context = await browser.new_context(base_url=base_url, viewport={"width": 1024, "height": 800})
    page = await context.new_page()
    await page.goto("/sign-in")
    await page.get_by_label(str(person["name"])).check()
    await page.get_by_role("button", name=re.compile("^(Kirjaudu sisään|Logga in|Sign in)$")).click()
    await page.wait_for_url(re.compile(r"/$"))
    return context, page


async def _reload_until_shown(page: Page, shown: Callable[[], Awaitable[bool]], what: str) -> None:
    """Reload until the page shows a fact: another service learns it from events as they arrive."""

    async def probe() -> bool:
        await page.reload()
        return await shown()

    await eventually(probe, timeout=60, what=what)


async def test_the_whole_journey_through_the_pages(
    browser: Browser, intake_url: str, review_url: str, awards_url: str
) -> None:
    contexts: list[BrowserContext] = []
    try:
        await _journey(browser, contexts, intake_url, review_url, awards_url)
    finally:
        for context in contexts:
            await context.close()


async def _journey(
    browser: Browser, contexts: list[BrowserContext], intake_url: str, review_url: str, awards_url: str
) -> None:
    async def person(base_url: str, who: dict[str, object]) -> Page:
        context, page = await _signed_in(browser, base_url, who)
        contexts.append(context)
        return page

    # The operator creates a call on intake.
    operator = await person(intake_url, OPERATOR)
    await operator.goto("/operator/calls")
    call_title = f"Laatuinnovaatiopalkinto {uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    await operator.get_by_label("Title").fill(call_title)
    await operator.get_by_label("Opens (UTC)").fill((now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    await operator.get_by_label("Closes (UTC)").fill((now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))
    await operator.get_by_label("Reviewers per iteration (1–2)").fill("1")
    await operator.get_by_label("Public sector").check()
    await operator.get_by_label("Finnish", exact=True).check()
    await operator.get_by_role("button", name="Create the call").click()
    await expect(operator.get_by_role("status")).to_have_text("Call created and announced to the other services.")
    await expect(operator.get_by_role("row", name=re.compile(call_title))).to_contain_text("Open")
    await screenshot(operator, "journey-01-operator-creates-the-call")

    # Once awards has learned the call from intake's announcement, the operator sets a jury of two there.
    await operator.get_by_role("row", name=re.compile(call_title)).get_by_role("link", name=call_title).click()
    jury_link = await operator.get_by_role("link", name="Jury and results").get_attribute("href")
    assert jury_link is not None and jury_link.startswith(awards_url)
    call_id = jury_link.rstrip("/").rsplit("/", 1)[1]

    async def learned() -> bool | None:
        response = await operator.goto(jury_link)
        return (response is not None and response.status == 200) or None

    await eventually(learned, timeout=60, what="awards learned the call from intake's announcement")
    for i, juror in enumerate((JUROR_1, JUROR_2)):
        await operator.locator(f"[name='juror.{i}.user_id']").fill(str(juror["user_id"]))
        await operator.locator(f"[name='juror.{i}.name']").fill(str(juror["name"]))
        await operator.locator(f"[name='juror.{i}.email']").fill(str(juror["email"]))
        await operator.locator(f"[name='juror.{i}.organisation_id']").fill(str(juror["organisation_id"]))
        await operator.locator(f"[name='juror.{i}.language']").select_option(str(juror["language"]))
    await operator.locator("#jurors_per_case").fill("2")
    await operator.get_by_role("button", name="Save the jury").click()
    await expect(operator.get_by_role("status")).to_have_text("Jury saved.")
    await screenshot(operator, "journey-02-operator-sets-the-jury")

    # The submitter finds the open call and submits in Finnish.
    submitter = await person(intake_url, SUBMITTER)
    await submitter.goto("/submitter/calls")
    await submitter.get_by_role("link", name=f"Jätä hakemus hakuun {call_title}").click()
    case_title = f"Ajanvaraus yhdellä viestillä {uuid.uuid4().hex[:6]}"
    await _fill_case(submitter, title=case_title, business_id="0112038-9")
    await submitter.get_by_role("button", name="Lähetä hakemus").click()
    await expect(submitter.get_by_role("status")).to_have_text("Hakemus on lähetetty.")
    case_url = submitter.url.split("?")[0]
    case_id = case_url.rsplit("/", 1)[1]
    await screenshot(submitter, "journey-03-submitter-submitted")

    # The reviewer claims it and requests changes with the stage's checklist.
    reviewer = await person(review_url, REVIEWER)
    await reviewer.goto("/reviewer")
    await _claim_task_of(reviewer, case_title)
    await reviewer.get_by_role("radio", name=f"Yes: {CONCEPT[0]}").check()
    await reviewer.get_by_role("radio", name=f"Yes: {CONCEPT[1]}").check()
    await reviewer.get_by_role("radio", name=f"No: {CONCEPT[2]}").check()
    await reviewer.get_by_label(f"Comment: {CONCEPT[2]}").fill("Asukkaita ei ole kuultu")
    await reviewer.get_by_role("radio", name=f"Yes: {CONCEPT[3]}").check()
    await reviewer.get_by_role("radio", name="Request changes").check()
    await reviewer.get_by_label("Reasons").fill("Kuulkaa käyttäjiä ennen seuraavaa vaihetta.")
    await screenshot(reviewer, "journey-04-reviewer-requests-changes")
    await reviewer.get_by_role("button", name="Record the decision").click()
    await expect(reviewer.get_by_role("status")).to_have_text("Your decision was recorded.")

    # The submitter sees the point and revises, addressing it.
    await submitter.goto(case_url)
    await _reload_until(submitter, "case-status", "Muutoksia pyydetty")
    point = submitter.locator("tr", has_text=IN_FINNISH)
    await expect(point).to_contain_text("Asukkaita ei ole kuultu")
    await submitter.get_by_role("checkbox", name=re.compile(f"^{IN_FINNISH}")).check()
    await submitter.get_by_label("Muutosten kuvaus").fill("Kaksi asukastyöpajaa pidetty.")
    await screenshot(submitter, "journey-05-submitter-revises")
    await submitter.get_by_role("button", name="Lähetä korjattu versio").click()
    await expect(submitter.get_by_test_id("case-status")).to_have_text("Korjattu")
    await expect(point).to_contain_text("Korjattu versiossa 2")

    # The reviewer claims the next iteration, sees the earlier one and the revision's note, and nominates.
    await reviewer.goto("/reviewer")
    await _claim_task_of(reviewer, case_title)
    await expect(reviewer.get_by_test_id("earlier-1")).to_contain_text("Request changes")
    await expect(reviewer.get_by_text("Kaksi asukastyöpajaa pidetty.")).to_be_visible()
    for item in CONCEPT:
        await reviewer.get_by_role("radio", name=f"Yes: {item}").check()
    await reviewer.get_by_role("radio", name="Nominate for the award").check()
    await reviewer.get_by_label("Reasons").fill("Valmis tuomaristolle.")
    await screenshot(reviewer, "journey-06-reviewer-nominates")
    await reviewer.get_by_role("button", name="Record the decision").click()
    await expect(reviewer.get_by_role("status")).to_have_text("Your decision was recorded.")

    # Both jurors find the case among their assignments once awards has learned the nomination, and score it.
    for juror, score, save, saved in (
        (JUROR_1, "4", "Spara poängen", "Dina poäng har sparats."),
        (JUROR_2, "5", "Save the scores", "Your scores are saved."),
    ):
        page = await person(awards_url, juror)
        await page.goto("/juror")
        assigned = page.get_by_role("link", name=case_title)
        await _reload_until_shown(page, assigned.is_visible, f"{juror['name']} assigned to {case_title!r} on awards")
        if juror is JUROR_1:
            await screenshot(page, "journey-07-juror-assignments")
        await assigned.click()
        await expect(page.get_by_text("Kaksi asukastyöpajaa pidetty.")).to_be_visible()
        for criterion in QUALITY_INNOVATION_AWARD_CRITERIA:
            await page.locator(f"#score-{criterion.key}").select_option(score)
        await page.get_by_role("button", name=save).click()
        await expect(page.get_by_role("status")).to_have_text(saved)
        if juror is JUROR_1:
            await screenshot(page, "journey-08-juror-scores")

    # The operator sees both scores on the leaderboard, decides and publishes.
    await operator.goto(f"{awards_url}/operator/calls/{call_id}")
    board = operator.locator("#leaderboard")
    await expect(board.get_by_role("row", name=re.compile(case_title))).to_contain_text("2 / 2")
    case = operator.locator(f"#case-{case_id}")
    await case.get_by_label("Outcome").select_option("award_winner")
    await case.get_by_label("Feedback for the submitter").fill("Asukkaat mukana alusta loppuun: vahva kokeilu.")
    await case.get_by_role("button", name="Decide").click()
    await expect(operator.get_by_role("status")).to_have_text("Decision saved.")
    await operator.locator("#publish").get_by_role("checkbox").check()
    await operator.get_by_role("button", name="Publish the results").click()
    await expect(operator.get_by_role("status")).to_have_text("Results published.")
    await expect(operator.get_by_test_id(f"evaluation-{case_id}")).to_have_text(
        "Status: Published · Outcome: Award winner"
    )
    await screenshot(operator, "journey-09-operator-publishes")

    # The submitter sees the outcome and the jury's feedback on their case page.
    await submitter.goto(case_url)
    outcome = submitter.get_by_test_id("outcome")
    await _reload_until_shown(submitter, outcome.is_visible, "the published outcome on intake")
    await expect(outcome).to_have_text("Palkinnon voittaja")
    await expect(submitter.get_by_test_id("jury-feedback")).to_contain_text(
        "Asukkaat mukana alusta loppuun: vahva kokeilu."
    )
    await screenshot(submitter, "journey-10-submitter-sees-the-outcome")

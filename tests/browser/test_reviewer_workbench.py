"""The reviewer's workbench (/reviewer on review) with the submitter's (/submitter on intake), in a real Chromium:
both services run in-process against the real Kafka and PostgreSQL, and every step goes through the pages.

Submitter submits in Finnish → review opens an iteration → the reviewer claims it and requests changes with the
stage's checklist → the submitter sees the typed feedback and revises, addressing the point → the reviewer claims
the next iteration, finds it among the tasks they hold, sees the earlier iteration, and releases it (off the list).
A submitter is refused the reviewer's page.
"""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Browser, Page, expect

from services.review.domain import CHECKLISTS
from shared.demo import PEOPLE
from shared.vocabulary import IsoStage, Language
from shared.web.i18n import Translator
from tests.browser.conftest import screenshot
from tests.browser.test_submitter_workbench import _fill_case, _open_call, _reload_until, _sign_in
from tests.support.harness import eventually

SUBMITTER = PEOPLE["submitter"]["name"]
REVIEWER = PEOPLE["reviewer"]["name"]
CONCEPT = CHECKLISTS[IsoStage.CONCEPT]
# The submitter reads the checklist item in Finnish; the reviewer's page is in English, whose words are the item's.
IN_FINNISH = Translator(Language.FI).label("checklist_item", CONCEPT[2])


async def _claim_task_of(page: Page, title: str) -> None:
    """Claim the next task until it is this case's: review opens its iteration once it has consumed the event."""

    async def claimed() -> bool:
        await page.get_by_role("button", name="Claim the next task").click()
        await page.wait_for_load_state()
        return await page.get_by_role("heading", level=1, name=title).count() == 1

    await eventually(claimed, what=f"a task for {title!r} to claim")


async def test_a_reviewer_requests_changes_with_the_checklist_and_the_submitter_revises(
    browser: Browser, page: Page, intake_url: str, review_url: str
) -> None:
    call_id, _ = await _open_call(intake_url)
    await _sign_in(page, SUBMITTER, then=f"/submitter/calls/{call_id}/submit")
    case_title = f"Ajanvaraus yhdellä viestillä {uuid.uuid4().hex[:6]}"
    await _fill_case(page, title=case_title, business_id="0112038-9")
    await page.get_by_role("button", name="Lähetä hakemus").click()
    await expect(page.get_by_role("status")).to_have_text("Hakemus on lähetetty.")
    case_url = page.url.split("?")[0]

    # The reviewer works in a browser of their own (the session cookie is per host, shared by all ports).
    reviewer_context = await browser.new_context(base_url=review_url, locale="en-GB")
    reviewer = await reviewer_context.new_page()
    try:
        await _sign_in(reviewer, REVIEWER, then="/reviewer")
        await expect(reviewer.get_by_role("heading", level=1)).to_have_text("Reviewer's workbench")
        await screenshot(reviewer, "reviewer-workbench")
        await _claim_task_of(reviewer, case_title)
        await expect(reviewer.get_by_test_id("task-stage")).to_have_text("Concept")
        await expect(reviewer.get_by_test_id("task-status")).to_have_text("Claimed")
        await expect(reviewer.get_by_text("Ajanvaraus yhdellä viestillä koko kunnan palveluihin.")).to_be_visible()

        # A decision without its reasons: the API's message at the field, and the checklist kept as filled.
        await reviewer.get_by_role("radio", name=f"No: {CONCEPT[2]}").check()
        await reviewer.get_by_label(f"Comment: {CONCEPT[2]}").fill("Asukkaita ei ole kuultu")
        await reviewer.get_by_role("radio", name="Request changes").check()
        async with reviewer.expect_response(re.compile(r"/decide$")) as answer:
            await reviewer.get_by_role("button", name="Record the decision").click()
        assert (await answer.value).status == 422
        await expect(reviewer.locator("#err-comment")).to_have_text("String should have at least 1 character")
        await expect(reviewer.get_by_role("radio", name=f"No: {CONCEPT[2]}")).to_be_checked()

        for item in (CONCEPT[0], CONCEPT[1], CONCEPT[3]):
            await reviewer.get_by_role("radio", name=f"Yes: {item}").check()
        await reviewer.get_by_label("Reasons").fill("Kuulkaa käyttäjiä ennen seuraavaa vaihetta.")
        await screenshot(reviewer, "reviewer-task")
        await reviewer.get_by_role("button", name="Record the decision").click()
        await expect(reviewer.get_by_role("status")).to_have_text("Your decision was recorded.")
        # Decided, the task is no longer among those the reviewer holds.
        await expect(reviewer.get_by_role("row", name=re.compile(re.escape(case_title)))).to_have_count(0)

        # The submitter reads the typed feedback and answers it.
        await page.goto(case_url)
        await _reload_until(page, "case-status", "Muutoksia pyydetty")
        point = page.locator("tr", has_text=IN_FINNISH)
        await expect(point).to_contain_text("Asukkaita ei ole kuultu")
        await expect(point).to_contain_text("Avoinna")
        await page.get_by_role("checkbox", name=re.compile(f"^{IN_FINNISH}")).check()
        await page.get_by_label("Muutosten kuvaus").fill("Kaksi asukastyöpajaa pidetty.")
        await page.get_by_role("button", name="Lähetä korjattu versio").click()
        await expect(page.get_by_test_id("case-status")).to_have_text("Korjattu")
        await expect(point).to_contain_text("Korjattu versiossa 2")

        # The next iteration shows the earlier one and the revision's note; the reviewer's list of held tasks has
        # it, until they give it back.
        await reviewer.goto("/reviewer")
        await _claim_task_of(reviewer, case_title)
        task_url = reviewer.url
        await reviewer.goto("/reviewer")
        held = reviewer.get_by_test_id("held-tasks").get_by_role("row", name=re.compile(re.escape(case_title)))
        await expect(held).to_have_count(1)
        await expect(held).to_contain_text("Concept")
        await expect(held.get_by_role("cell").nth(2)).to_have_text("2")
        await expect(held).to_contain_text(" UTC")
        await screenshot(reviewer, "reviewer-held-tasks")
        await held.get_by_role("link", name=case_title).click()
        assert reviewer.url == task_url
        earlier = reviewer.get_by_test_id("earlier-1")
        await expect(earlier).to_contain_text("Request changes")
        await expect(earlier).to_contain_text(f"{CONCEPT[2]}: not met — Asukkaita ei ole kuultu")
        await expect(reviewer.get_by_text("Kaksi asukastyöpajaa pidetty.")).to_be_visible()
        await screenshot(reviewer, "reviewer-task-earlier-iteration")
        await reviewer.get_by_role("button", name="Release the task").click()
        await expect(reviewer.get_by_role("status")).to_have_text("The task went back to the queue.")
        await expect(reviewer.get_by_role("row", name=re.compile(re.escape(case_title)))).to_have_count(0)
    finally:
        await reviewer_context.close()

    # The submitter's session is refused the reviewer's pages.
    response = await page.goto(f"{review_url}/reviewer")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("arvioija")

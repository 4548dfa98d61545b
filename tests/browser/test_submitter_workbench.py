"""The submitter's workbench (/submitter/...) in a real Chromium against a running intake, real Kafka and PostgreSQL.

The call is created through the API (the operator's pages are another workbench); review's decisions arrive as the
events review would publish, produced to its topic, and the pages show what intake made of them.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Browser, Page, expect

from shared.demo import PEOPLE
from shared.events import AwardDecidedV1, ChangesRequestedV1, FeedbackItem, IterationOpenedV1, ResultsPublishedV1
from shared.vocabulary import AwardOutcome, IsoStage
from tests.browser.conftest import screenshot
from tests.support.harness import auth, eventually
from tests.support.kafka import make_event, produce_event

SUBMITTER = PEOPLE["submitter"]["name"]
REVIEWER = PEOPLE["reviewer"]["name"]
LONG = "Kunnan asukkaat odottavat palveluja liian kauan, ja jonot kasvavat joka vuosi."


async def _sign_in(page: Page, name: str, *, then: str) -> None:
    await page.goto(then)
    await page.get_by_label(name).check()
    await page.get_by_role("button", name=re.compile("^(Kirjaudu sisään|Logga in|Sign in)$")).click()


async def _open_call(intake_url: str) -> tuple[str, str]:
    title = f"Kuntien kokeilut {uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=intake_url) as client:
        response = await client.post(
            "/calls",
            headers=auth("operator", user="demo-operator"),
            json={
                "title": title,
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=7)).isoformat(),
                "categories": ["public_sector", "education"],
                "languages": ["fi", "en"],
            },
        )
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), title


async def _fill_case(page: Page, *, title: str, business_id: str) -> None:
    await page.get_by_label("Otsikko").fill(title)
    await page.get_by_label("Tiivistelmä").fill("Ajanvaraus yhdellä viestillä koko kunnan palveluihin.")
    await page.get_by_label("Ongelma").fill(LONG)
    await page.get_by_label("Ratkaisu").fill("Yksi jono, yksi viesti: asukas saa ajan suoraan tekstiviestillä.")
    await page.get_by_label("Organisaation nimi").fill("Esimerkkikaupunki")
    await page.get_by_label("Y-tunnus").fill(business_id)
    await page.get_by_label("Jäsen 1: nimi").fill("Maija Meikäläinen")
    await page.get_by_label("Jäsen 1: sähköposti").fill("maija@example.fi")
    await page.get_by_label("Sarja").select_option("public_sector")
    await page.get_by_label("Hakemuksen kieli").select_option("fi")
    await page.get_by_role("checkbox", name=re.compile("^1 · ")).check()
    await page.get_by_role("checkbox", name=re.compile("^3 · ")).check()
    await page.get_by_label("ISO 56002 -vaihe").select_option("concept")


async def _reload_until(page: Page, test_id: str, text: str) -> None:
    """Reload until the page shows ``text`` at ``test_id``: intake applies review's events as they arrive."""

    async def shown() -> bool:
        await page.reload()
        return (await page.get_by_test_id(test_id).inner_text()).strip() == text

    await eventually(shown, what=f"{test_id} to read {text!r}")


async def test_a_submitter_submits_in_finnish_fixes_the_business_id_revises_and_withdraws(
    page: Page, intake_url: str, infra_env: dict[str, str]
) -> None:
    call_id, call_title = await _open_call(intake_url)
    await _sign_in(page, SUBMITTER, then="/submitter/calls")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Avoimet haut")
    await expect(page.get_by_role("heading", name=call_title)).to_be_visible()
    await screenshot(page, "submitter-calls")
    await page.get_by_role("link", name=f"Jätä hakemus hakuun {call_title}").click()

    # A wrong check digit and a partner's wrong email: the API's own messages, each at its field, and the form
    # keeps what was typed.
    case_title = f"Ajanvaraus yhdellä viestillä {uuid.uuid4().hex[:6]}"
    await _fill_case(page, title=case_title, business_id="0112038-8")
    await page.get_by_label("Kumppani 1: nimi").fill("Esimerkkisäätiö")
    await page.get_by_label("Kumppani 1: sähköposti").fill("saatio.example.fi")
    await page.get_by_label("Kumppani 1: rooli").fill("rahoittaja")
    async with page.expect_response(re.compile(r"/submit$")) as answer:
        await page.get_by_role("button", name="Lähetä hakemus").click()
    assert (await answer.value).status == 422
    business_id = page.get_by_label("Y-tunnus")
    await expect(business_id).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#err-organisation\\.business_id")).to_have_text(
        "business ID '0112038-8' has a wrong check digit (expected 9)"
    )
    partner_email = page.get_by_label("Kumppani 1: sähköposti")
    await expect(partner_email).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#err-partners\\.0\\.email")).to_contain_text("not a valid email address")
    await expect(page.get_by_label("Kumppani 1: nimi")).to_have_value("Esimerkkisäätiö")
    await expect(page.get_by_label("Otsikko")).to_have_value(case_title)
    await expect(page.get_by_label("Otsikko")).not_to_have_attribute("aria-invalid", "true")
    await screenshot(page, "submitter-form-errors")

    await business_id.fill("0112038-9")
    await partner_email.fill("info@saatio.example.fi")
    await page.get_by_role("button", name="Lähetä hakemus").click()
    await expect(page.get_by_role("status")).to_have_text("Hakemus on lähetetty.")
    await expect(page.get_by_test_id("case-status")).to_have_text("Lähetetty")
    await expect(page.get_by_test_id("partners")).to_have_text("Esimerkkisäätiö (rahoittaja), info@saatio.example.fi")
    await expect(page.get_by_test_id("timeline")).to_contain_text("Hakemus lähetetty")
    case_id = page.url.split("/cases/")[1].split("?")[0]

    await page.get_by_role("link", name="Omat hakemukset").click()
    await expect(page.get_by_role("link", name=case_title)).to_be_visible()
    await expect(page.get_by_test_id(f"status-{case_id}")).to_have_text("Lähetetty")
    await screenshot(page, "submitter-my-cases")

    # Review opens an iteration and asks for changes with a numbered point (what review publishes).
    point = uuid.uuid4()
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    for payload in (
        IterationOpenedV1(
            case_id=uuid.UUID(case_id),
            call_id=uuid.UUID(call_id),
            iteration=1,
            revision=1,
            stage=IsoStage.CONCEPT,
            due_at=datetime.now(UTC) + timedelta(days=14),
        ),
        ChangesRequestedV1(
            case_id=uuid.UUID(case_id),
            call_id=uuid.UUID(call_id),
            iteration=1,
            reviewer_ids=["demo-reviewer"],
            comment="Kuvatkaa mittarit.",
            feedback=[
                FeedbackItem(
                    checklist_item="Vaikuttavuus mitattu", met=False, comment="Mittarit puuttuvat", point_id=point
                ),
                FeedbackItem(checklist_item="Ongelma kuvattu", met=True),
            ],
        ),
    ):
        await produce_event(bootstrap, make_event(payload, service="review", subject=case_id), topic=payload.topic)
    await page.get_by_role("link", name=case_title).click()
    await _reload_until(page, "case-status", "Muutoksia pyydetty")
    row = page.get_by_test_id(f"point-{point}")
    await expect(row).to_contain_text("Vaikuttavuus mitattu")
    await expect(row).to_contain_text("Mittarit puuttuvat")
    await expect(row).to_contain_text("Avoinna")
    # The timeline in Finnish, the stage by its name: what intake made of review's events.
    await expect(page.get_by_test_id("timeline")).to_contain_text("Arviointikierros 1 alkoi, vaihe: Konsepti")
    await expect(page.get_by_test_id("timeline")).to_contain_text("Muutoksia pyydettiin kierroksella 1: Kuvatkaa")
    await screenshot(page, "submitter-case-feedback")

    await page.get_by_label("Ratkaisu").fill(
        "Yksi jono, yksi viesti: asukas saa ajan tekstiviestillä. Mittari: odotusaika päivinä."
    )
    await page.get_by_role("checkbox", name=re.compile("^Vaikuttavuus mitattu")).check()
    await page.get_by_label("Muutosten kuvaus").fill("Lisätty mittari.")
    await page.get_by_role("button", name="Lähetä korjattu versio").click()
    await expect(page.get_by_role("status")).to_have_text("Korjattu versio on lähetetty.")
    await expect(page.get_by_test_id("case-status")).to_have_text("Korjattu")
    await expect(row).to_contain_text("Korjattu versiossa 2")

    # Withdrawing needs the confirmation ticked.
    await page.get_by_label("Syy").fill("Hanke siirtyy ensi vuoteen.")
    async with page.expect_response(re.compile(r"/withdraw$")) as answer:
        await page.get_by_role("button", name="Peru hakemus").click()
    assert (await answer.value).status == 422
    await expect(page.locator("#err-confirm")).to_have_text("Vahvista peruminen rastittamalla ruutu.")
    await page.get_by_role("checkbox", name=re.compile("^Haluan perua hakemuksen")).check()
    await page.get_by_role("button", name="Peru hakemus").click()
    await expect(page.get_by_test_id("case-status")).to_have_text("Peruttu")
    await expect(page.get_by_test_id("timeline")).to_contain_text(
        "Hakija perui hakemuksen: Hanke siirtyy ensi vuoteen."
    )
    await screenshot(page, "submitter-case-withdrawn")


async def test_a_reviewer_is_refused_the_submitters_pages_and_a_stranger_sees_no_case(page: Page) -> None:
    await _sign_in(page, REVIEWER, then="/submitter/calls")
    response = await page.goto("/submitter/cases")
    assert response is not None and response.status == 403
    await page.context.clear_cookies()
    await _sign_in(page, SUBMITTER, then=f"/submitter/cases/{uuid.uuid4()}")
    response = await page.goto(f"/submitter/cases/{uuid.uuid4()}")
    assert response is not None and response.status == 404


async def test_the_outcome_and_the_jurys_feedback_show_only_once_published_and_the_form_fits_a_phone(
    browser: Browser, intake_url: str, infra_env: dict[str, str]
) -> None:
    call_id, _ = await _open_call(intake_url)
    phone = await browser.new_context(
        base_url=intake_url, locale="fi-FI", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        page = await phone.new_page()
        await _sign_in(page, SUBMITTER, then=f"/submitter/calls/{call_id}/submit")
        case_title = f"Kirjasto kaikille {uuid.uuid4().hex[:6]}"
        await _fill_case(page, title=case_title, business_id="0112038-9")
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await screenshot(page, "submitter-form-phone")
        await page.get_by_role("button", name="Lähetä hakemus").click()
        await expect(page.get_by_test_id("case-status")).to_have_text("Lähetetty")
        case_id = uuid.UUID(page.url.split("/cases/")[1].split("?")[0])

        bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
        decided = AwardDecidedV1(
            case_id=case_id,
            call_id=uuid.UUID(call_id),
            outcome=AwardOutcome.FINALIST,
            weighted_score=4.2,
            rank_in_category=2,
            feedback="Vahva kokeilu",
        )
        await produce_event(bootstrap, make_event(decided, service="awards", subject=str(case_id)), topic=decided.topic)
        # Embargoed: the submitter sees the case in evaluation, and neither outcome nor score nor feedback.
        await _reload_until(page, "case-status", "Tuomariston arvioitavana")
        await expect(page.get_by_test_id("outcome")).to_have_count(0)
        await expect(page.get_by_text("Vahva kokeilu")).to_have_count(0)
        await expect(page.get_by_test_id("timeline")).not_to_contain_text("4.2")

        published = ResultsPublishedV1(
            case_id=case_id, call_id=uuid.UUID(call_id), outcome=AwardOutcome.FINALIST, feedback="Vahva kokeilu"
        )
        await produce_event(
            bootstrap, make_event(published, service="awards", subject=str(case_id)), topic=published.topic
        )
        await _reload_until(page, "case-status", "Tulokset julkaistu")
        await expect(page.get_by_test_id("outcome")).to_have_text("Finalisti")
        await expect(page.get_by_test_id("jury-feedback")).to_contain_text("Vahva kokeilu")
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await screenshot(page, "submitter-case-published-phone")
    finally:
        await phone.close()

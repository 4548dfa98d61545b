"""Signing in, the home page, the language switch, CSRF and the pages' role check, in a real Chromium."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page, expect

from shared.demo import PEOPLE
from tests.browser.conftest import OPERATORS_ONLY, screenshot

SUBMITTER = PEOPLE["submitter"]["name"]


async def _sign_in_as(page: Page, name: str) -> None:
    await page.goto("/")
    await expect(page).to_have_url("/sign-in?next=%2F")
    await page.get_by_label(name).check()
    await page.get_by_role("button", name="Kirjaudu sisään").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(name)


async def test_the_submitter_signs_in_and_sees_their_name_and_role_in_finnish(page: Page) -> None:
    await page.goto("/")
    await expect(page).to_have_url("/sign-in?next=%2F")
    await expect(page.locator("html")).to_have_attribute("lang", "fi")
    for person in PEOPLE.values():
        await expect(page.get_by_label(person["name"])).to_be_visible()
    await screenshot(page, "sign-in")
    await page.get_by_label(SUBMITTER).check()
    await page.get_by_role("button", name="Kirjaudu sisään").click()
    await expect(page).to_have_url("/")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Olet kirjautunut: {SUBMITTER}")
    await expect(page.get_by_test_id("roles")).to_have_text("hakija")
    await screenshot(page, "home-fi")


async def test_the_language_switches_and_is_remembered(page: Page) -> None:
    await _sign_in_as(page, SUBMITTER)
    await page.get_by_role("link", name="svenska").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Du är inloggad som: {SUBMITTER}")
    await expect(page.get_by_test_id("roles")).to_have_text("sökande")
    await expect(page.locator("html")).to_have_attribute("lang", "sv")
    await screenshot(page, "home-sv")
    await page.goto("/")
    await expect(page.get_by_role("button", name="Logga ut")).to_be_visible()
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Signed in as: {SUBMITTER}")


async def test_a_form_without_its_csrf_token_is_refused_with_a_page(page: Page) -> None:
    await _sign_in_as(page, SUBMITTER)
    # What a form of another site would send: no token (its author cannot read the cookie to compute one).
    await page.locator("form[action='/sign-out'] input[name=csrf_token]").evaluate("field => field.remove()")
    async with page.expect_response("**/sign-out") as answer:
        await page.get_by_role("button", name="Kirjaudu ulos").click()
    assert (await answer.value).status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lomake vanhentui")
    await expect(page.get_by_role("alert")).to_have_text(
        "Lomake on vanhentunut tai sitä ei lähettänyt Kipinä; lataa sivu uudelleen ja yritä uudestaan."
    )
    await screenshot(page, "form-expired")
    await page.goto("/")  # still signed in: the refused form changed nothing
    await expect(page.get_by_role("heading", level=1)).to_contain_text(SUBMITTER)


async def test_signing_out_returns_to_the_sign_in_page(page: Page, context: BrowserContext) -> None:
    await _sign_in_as(page, SUBMITTER)
    assert [c["name"] for c in await context.cookies() if c["name"] == "kipina_session"] == ["kipina_session"]
    await page.get_by_role("button", name="Kirjaudu ulos").click()
    await expect(page).to_have_url("/sign-in")
    assert not [c for c in await context.cookies() if c["name"] == "kipina_session"]
    await page.goto("/")
    await expect(page).to_have_url("/sign-in?next=%2F")


async def test_a_submitter_is_refused_a_page_that_needs_the_operator_role(page: Page) -> None:
    await _sign_in_as(page, SUBMITTER)
    response = await page.goto(OPERATORS_ONLY)
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ei pääsyä")
    await expect(page.get_by_role("alert")).to_have_text("Tämä sivu vaatii roolin: ylläpitäjä. Roolisi: hakija.")
    await screenshot(page, "refused")


async def test_the_operator_is_admitted_and_the_session_cookie_is_httponly(page: Page, context: BrowserContext) -> None:
    await _sign_in_as(page, PEOPLE["operator"]["name"])
    response = await page.goto(OPERATORS_ONLY)
    assert response is not None and response.status == 200
    (session,) = [c for c in await context.cookies() if c["name"] == "kipina_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert "kipina_session" not in await page.evaluate("document.cookie")  # no script on the page can read it


async def test_the_pages_fit_a_phone(browser: Browser, intake_url: str) -> None:
    phone = await browser.new_context(
        base_url=intake_url, locale="fi-FI", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        page = await phone.new_page()
        await _sign_in_as(page, SUBMITTER)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await screenshot(page, "home-phone")
    finally:
        await phone.close()


async def test_the_keyboard_reaches_the_content_first(page: Page) -> None:
    await _sign_in_as(page, SUBMITTER)
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Siirry sisältöön")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_visible()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()

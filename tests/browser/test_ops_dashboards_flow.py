"""Every service's operator dashboard follows the cases as they flow, live, in a real Chromium.

Intake, review, awards and notify run in-process against the real Kafka and PostgreSQL, each on its own database and
consumer group (pinned to the end of the topics, so they see only this test's call and cases); notify sends its
emails to an SMTP sink. An operator signs in once (the session cookie is per host, so it serves all four ports) and
opens the four dashboards. Cases then flow through the APIs only: submitted on intake with a submitter's token,
claimed and nominated on review, scored on awards by two jurors. Each dashboard shows its numbers change without a
reload (a mark set in each page's window stays until the end): intake's events handled and funnel, review's queue and
reviewer load, awards' scoring progress, spread and leaderboard, notify's deliveries. Every wait is Playwright's
``expect`` for a text the page's own polling brings in. Screenshots ``docs/screenshots/ops-<service>.png``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from shared.demo import PEOPLE
from tests.browser.conftest import _free_port, _restore, screenshot, served
from tests.e2e.steps import JUROR_A, JUROR_B, OPERATOR, REVIEWER, awards_knows_call, claim_task_of, ok, score_as
from tests.support.harness import auth
from tests.support.infra import own_database, reset_database, unique_group
from tests.support.mail import SmtpSink, smtp_sink

# The dashboards poll every 3 seconds; a fact has this long to arrive through Kafka and the page's polling.
LIVE = 45_000
SUBMITTER = auth("submitter", user="sub-flow", org="org-flow-city", email="flow@example.org", name="Fiia Flow")
SERVICES = ("intake", "review", "awards", "notify")


@dataclass(frozen=True)
class Stack:
    urls: dict[str, str]
    mail: SmtpSink


@asynccontextmanager
async def _running(infra_env: dict[str, str], service: str, create: Any, **env: str) -> AsyncIterator[str]:
    """``service`` served on a free port, on a database of its own and a consumer group at the topics' end."""
    prefix = f"KIPINA_{service.upper()}_"
    database = await own_database(infra_env, service, f"browser_ops_{service}")
    await reset_database(database)
    port = _free_port()
    settings = {
        "KIPINA_DEV_SIGN_IN": "true",
        f"{prefix}DATABASE_URL": database,
        f"{prefix}CONSUMER_GROUP": unique_group(f"browser-ops-{service}"),
        f"{prefix}PORT": str(port),
        f"{prefix}RELAY_POLL_INTERVAL_S": "0.2",
        **env,
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        app: FastAPI = create()
    finally:
        _restore(saved)
    async with served(app, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def stack(infra_env: dict[str, str]) -> AsyncIterator[Stack]:
    from services.awards.app import create as awards
    from services.intake.app import create as intake
    from services.notify.app import create as notify
    from services.review.app import create as review

    with smtp_sink() as mail:
        mailer = {
            "KIPINA_NOTIFY_SMTP_HOST": "127.0.0.1",
            "KIPINA_NOTIFY_SMTP_PORT": str(mail.port),
            "KIPINA_NOTIFY_DELIVERY_POLL_S": "0.2",
        }
        async with (
            _running(infra_env, "intake", intake) as intake_url,
            _running(infra_env, "review", review) as review_url,
            _running(infra_env, "awards", awards) as awards_url,
            _running(infra_env, "notify", notify, **mailer) as notify_url,
        ):
            urls = dict(zip(SERVICES, (intake_url, review_url, awards_url, notify_url), strict=True))
            yield Stack(urls=urls, mail=mail)


def _cells(table: Locator, has_text: str) -> Locator:
    return table.locator("tbody tr", has_text=has_text).locator("td")


async def _number(locator: Locator) -> int:
    text = await locator.inner_text()
    return int(text) if text.strip().isdigit() else 0


async def test_every_dashboard_shows_its_numbers_change_while_cases_flow(browser: Browser, stack: Stack) -> None:
    urls = stack.urls
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        async with httpx.AsyncClient(timeout=20) as http:
            await _flow(context, http, urls)
    finally:
        await context.close()


async def _flow(context: BrowserContext, http: httpx.AsyncClient, urls: dict[str, str]) -> None:
    # The operator signs in once and opens the four dashboards, in English.
    dashboards: dict[str, Page] = {}
    for service in SERVICES:
        page = await context.new_page()
        if not dashboards:
            await page.goto(f"{urls['intake']}/sign-in")
            await page.get_by_label(str(PEOPLE["operator"]["name"])).check()
            await page.get_by_role("button", name=re.compile("^(Kirjaudu sisään|Logga in|Sign in)$")).click()
            await page.wait_for_url(re.compile(r"/$"))
        await page.goto(f"{urls[service]}/ops?lang=en")
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Operator dashboard")
        # Stays set for as long as the page is not reloaded.
        await page.evaluate("window.kipinaNotReloaded = true")
        dashboards[service] = page
    intake, review, awards, notify = (dashboards[s] for s in SERVICES)

    # An operator opens a call with one reviewer per iteration; once awards has learned it, names two jurors.
    now = datetime.now(UTC)
    call_title = f"Live dashboards {uuid.uuid4().hex[:6]}"
    call = ok(
        await http.post(
            f"{urls['intake']}/calls",
            headers=OPERATOR,
            json={
                "title": call_title,
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=30)).isoformat(),
                "categories": ["public_sector"],
                "languages": ["en"],
                "reviewers_per_iteration": 1,
            },
        ),
        201,
    )
    await awards_knows_call(http, urls["awards"], call["id"])
    jurors = [
        {"user_id": "juror-a", "name": "Juror A", "email": "juror-a@example.org", "organisation_id": "org-jury-a"},
        {"user_id": "juror-b", "name": "Juror B", "email": "juror-b@example.org", "organisation_id": "org-jury-b"},
    ]
    ok(
        await http.put(
            f"{urls['awards']}/calls/{call['id']}/jury",
            headers=OPERATOR,
            json={"jurors": jurors, "jurors_per_case": 2},
        )
    )

    # Before any case: what each dashboard shows.
    handled_before = await _number(intake.get_by_test_id("events-handled"))
    funnel = intake.get_by_test_id("glance-funnel")
    await expect(funnel.locator("tbody tr", has_text=call_title)).to_have_count(0)
    queue = review.get_by_test_id("glance-queue")
    await expect(queue.locator("tbody td")).to_have_text(["0", "0", "0"])
    per_call = awards.get_by_test_id("glance-scoring-per-call")
    await expect(per_call.locator("tbody tr", has_text=call_title)).to_have_count(0)
    deliveries = notify.get_by_test_id("glance-deliveries")
    delivered = _cells(deliveries, "delivered").nth(2)
    delivered_before = await _number(delivered) if await delivered.count() else 0

    # Two cases are submitted on intake's API.
    case_ids = []
    for title in ("Guided permits", "Library by text message"):
        body = {
            "call_id": call["id"],
            "title": f"{title} {uuid.uuid4().hex[:4]}",
            "summary": "A service residents can use without calling the office.",
            "problem": "Residents wait weeks for answers that a guided service could give at once.",
            "solution": "A guided service checks the request with the resident and routes it to the right desk.",
            "organisation": {"name": "Flow City", "business_id": "0112038-9"},
            "team": [{"name": "Tiina Team", "email": "tiina@example.org"}],
            "category": "public_sector",
            "language": "en",
            "oecd_principles": [1],
            "iso_stage": "concept",
        }
        case = ok(await http.post(f"{urls['intake']}/cases", headers=SUBMITTER, json=body), 201)
        case_ids.append((case["id"], body["title"]))
    (first, first_title), _ = case_ids

    # Intake: events handled grow (review's iterations opened come back), and the funnel shows both in review.
    await expect(intake.get_by_test_id("events-handled")).not_to_have_text(str(handled_before), timeout=LIVE)
    await expect(_cells(funnel, call_title)).to_have_text([call_title, "0", "2", "0", "0", "0", "0", "0"], timeout=LIVE)
    # Review: both wait in the queue. Notify: the submitter's and the team's emails are delivered.
    await expect(queue.locator("tbody td")).to_have_text(["2", "0", "0"], timeout=LIVE)
    await expect(deliveries.locator("tbody tr", has_text="delivered")).to_have_count(1, timeout=LIVE)
    await expect(delivered).not_to_have_text(str(delivered_before), timeout=LIVE)
    delivered_after_submission = await _number(delivered)
    assert delivered_after_submission > delivered_before

    # A reviewer claims the first: one queued, one claimed, held by them.
    task = await claim_task_of(http, urls["review"], first)
    await expect(queue.locator("tbody td")).to_have_text(["1", "1", "0"], timeout=LIVE)
    load = review.get_by_test_id("glance-reviewer-load")
    await expect(_cells(load, "rev-1")).to_have_text(["rev-1", "1", "0"], timeout=LIVE)

    # ... and nominates it: review's load moves to decided; intake's funnel to nominated; awards opens the evaluation
    # with both jurors assigned, none scored yet.
    ok(
        await http.post(
            f"{urls['review']}/tasks/{task['task_id']}/decision",
            headers=REVIEWER,
            json={"decision": "nominate", "comment": "Ready for the jury."},
        )
    )
    await expect(queue.locator("tbody td")).to_have_text(["1", "0", "0"], timeout=LIVE)
    await expect(_cells(load, "rev-1")).to_have_text(["rev-1", "0", "1"], timeout=LIVE)
    await expect(_cells(funnel, call_title)).to_have_text([call_title, "0", "1", "1", "0", "0", "0", "0"], timeout=LIVE)
    in_review = intake.get_by_test_id("glance-time-in-stage").locator("tbody tr", has_text=call_title)
    await expect(in_review.filter(has_text="In review").locator("td").nth(2)).to_have_text("1", timeout=LIVE)
    await expect(_cells(per_call, call_title)).to_have_text([call_title, "0", "2"], timeout=LIVE)

    # The jurors score it four and two points apart: progress, a large spread, and the leaderboard.
    await score_as(http, urls["awards"], first, JUROR_A, 4)
    await expect(_cells(per_call, call_title)).to_have_text([call_title, "1", "2"], timeout=LIVE)
    await score_as(http, urls["awards"], first, JUROR_B, 2)
    await expect(_cells(per_call, call_title)).to_have_text([call_title, "2", "2"], timeout=LIVE)
    spread = awards.get_by_test_id("glance-spread")
    await expect(_cells(spread, first_title)).to_have_text(
        [call_title, first_title, "2", "2.0", "4.0", "1.0", "⚠ Large: talk it over before deciding"], timeout=LIVE
    )
    leaderboard = awards.get_by_test_id("glance-leaderboard")
    await expect(_cells(leaderboard, first_title)).to_have_text(
        [call_title, "Public sector", "1", first_title, "3.0", "2 / 2"], timeout=LIVE
    )
    await expect(_cells(awards.get_by_test_id("glance-scoring-per-juror"), "juror-a")).to_have_text(
        ["juror-a", "1", "1"], timeout=LIVE
    )

    # Notify: the nomination and the jurors' assignments were delivered too.
    await expect(delivered).not_to_have_text(str(delivered_after_submission), timeout=LIVE)

    for service, page in dashboards.items():
        assert await page.evaluate("window.kipinaNotReloaded") is True, f"{service}'s dashboard was reloaded"
        await screenshot(page, f"ops-{service}")

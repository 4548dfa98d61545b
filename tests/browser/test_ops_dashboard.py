"""The operator dashboard (GET /ops) in a real Chromium against a running intake, real Kafka and PostgreSQL.

Figures are read from the page and must change because events flowed (waited for, never slept on); dead letters
come from messages really produced to a topic intake consumes.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from playwright.async_api import Page, expect

from shared.demo import PEOPLE
from shared.events import ChangesRequestedV1
from tests.browser.conftest import screenshot
from tests.support.harness import auth, eventually
from tests.support.kafka import make_event, produce, produce_event

OPERATOR = PEOPLE["operator"]["name"]
SUBMITTER = PEOPLE["submitter"]["name"]
# Playwright's expectations wait this long for the dashboard's polling to bring a fact in.
LIVE = 30_000


async def _sign_in(page: Page, name: str, *, then: str = "/ops") -> None:
    await page.goto(then)
    await page.get_by_label(name).check()
    await page.get_by_role("button", name=re.compile("^(Kirjaudu sisään|Logga in|Sign in)$")).click()


async def _figure(page: Page, test_id: str) -> int:
    return int(await page.get_by_test_id(test_id).inner_text())


async def _intake_db() -> asyncpg.Connection:
    return await asyncpg.connect(os.environ["KIPINA_INTAKE_DATABASE_URL"])


def _consumed_in_the_hour(summary: str) -> int:
    found = re.match(r"In the last hour (\d+) events consumed", summary)
    return int(found.group(1)) if found else 0


async def _block(subjects: list[str]) -> None:
    """A fault the test can take away: intake's inbox refuses the events of these cases, so their handling fails
    (retried, then dead-lettered by intake's consumer) until ``_unblock``."""
    listed = ", ".join(f"'{uuid.UUID(s)}'" for s in subjects)  # uuids only: nothing else reaches the SQL
    db = await _intake_db()
    try:
        await db.execute(
            f"""
            CREATE OR REPLACE FUNCTION test_refuse_subject() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the case store refuses case %', NEW.subject; END $$;
            DROP TRIGGER IF EXISTS test_refuse_subject ON inbox;
            CREATE TRIGGER test_refuse_subject BEFORE INSERT ON inbox FOR EACH ROW
                WHEN (NEW.subject IN ({listed})) EXECUTE FUNCTION test_refuse_subject();
            """
        )
    finally:
        await db.close()


async def _unblock() -> None:
    db = await _intake_db()
    try:
        await db.execute("DROP TRIGGER IF EXISTS test_refuse_subject ON inbox")
    finally:
        await db.close()


async def _dead_lettered(subjects: list[str], *, payloads: Sequence[str] = ()) -> list[int]:
    """The ids of the dead letters of these cases' events and of these raw payloads, once all are there."""
    db = await _intake_db()
    try:

        async def found() -> list[int] | None:
            rows = await db.fetch(
                """
                SELECT id FROM dead_letters
                WHERE convert_from(message_key, 'UTF8') = ANY($1::text[]) OR convert_from(payload, 'UTF8') = ANY($2)
                ORDER BY id
                """,
                subjects,
                list(payloads),
            )
            return [r["id"] for r in rows] if len(rows) == len(subjects) + len(payloads) else None

        return await eventually(found, what="the dead letters")
    finally:
        await db.close()


async def _changes_requested(bootstrap: str, case_id: str) -> uuid.UUID:
    """Review's event for a case intake does not know: intake handles (and acknowledges) it all the same."""
    payload = ChangesRequestedV1(
        case_id=uuid.UUID(case_id), call_id=uuid.uuid4(), iteration=1, reviewer_ids=["r"], comment="c"
    )
    event = make_event(payload, service="review", subject=case_id)
    await produce_event(bootstrap, event, topic=payload.topic)
    return event.id


async def test_an_operator_sees_the_dashboard_and_its_figures_change_live_while_events_flow(
    page: Page, infra_env: dict[str, str]
) -> None:
    await _sign_in(page, OPERATOR, then="/ops?lang=en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Operator dashboard — Intake")
    await expect(page.get_by_test_id("health-database")).to_contain_text("Answers")
    await expect(page.get_by_test_id("health-kafka")).to_contain_text("Answers")
    for caption in ("Consumer lag per topic partition", "Dependencies"):
        await expect(page.locator("caption", has_text=caption)).to_be_visible()
    await expect(page.get_by_role("link", name="Review")).to_have_attribute("href", re.compile(r"/ops$"))
    before = await _figure(page, "events-handled")
    # The chart of the last hour: a figure with its caption, its summary as the picture's name, its axes named,
    # and its figures as a table, which stays open while the page polls.
    chart = page.get_by_test_id("flow-chart")
    await expect(chart.locator("figcaption")).to_have_text("Events per minute over the last hour")
    svg = page.get_by_role("img", name=re.compile("^(In the last hour|No events consumed)"))
    await expect(svg).to_be_visible()
    await expect(svg.locator("text", has_text="Events per minute")).to_have_count(1)
    await expect(svg.locator("text", has_text="Time (UTC), one point a minute")).to_have_count(1)
    consumed_before = _consumed_in_the_hour(await svg.get_attribute("aria-label") or "")
    await chart.get_by_text("The chart's figures as a table").click()
    await expect(chart.get_by_role("table")).to_be_visible()
    await expect(chart.get_by_role("table").locator("tbody tr")).to_have_count(60)

    # Review's events for cases intake does not know are handled (and acknowledged) all the same.
    for _ in range(3):
        stranger = uuid.uuid4()
        payload = ChangesRequestedV1(
            case_id=stranger, call_id=uuid.uuid4(), iteration=1, reviewer_ids=["r"], comment="c"
        )
        await produce_event(
            infra_env["KIPINA_KAFKA_BOOTSTRAP"],
            make_event(payload, service="review", subject=str(stranger)),
            topic=payload.topic,
        )
    # No reload: the page's script brings the new figure in.
    await expect(page.get_by_test_id("events-handled")).not_to_have_text(str(before), timeout=LIVE)
    await expect(page.get_by_test_id("events-handled")).to_have_text(str(before + 3), timeout=LIVE)
    # The chart and the rate came with the same poll: three more consumed in the hour, and a rate above nothing.
    await expect(svg).to_have_attribute(
        "aria-label", re.compile(rf"^In the last hour {consumed_before + 3} events consumed"), timeout=LIVE
    )
    await expect(page.get_by_test_id("rate-consumed")).not_to_have_text("0.00/s")
    await expect(chart.locator("details")).to_have_attribute("open", "")  # the poll kept the table open
    # Lag per partition: topic, partition, committed and end offsets, messages behind.
    await expect(page.get_by_test_id(f"lag-{ChangesRequestedV1.topic}")).to_be_visible(timeout=LIVE)
    await expect(page.get_by_test_id(f"lag-{ChangesRequestedV1.topic}-0").locator("td")).to_have_count(4)
    # The latest events list the last one with its case linked to the case's timeline (intake's API), and the
    # handlers' latency and error rate come from this process's metrics.
    latest = page.get_by_test_id("latest-events")
    await expect(latest.get_by_role("link", name=str(stranger))).to_have_attribute(
        "href", re.compile(rf"/cases/{stranger}$"), timeout=LIVE
    )
    await expect(latest.locator("tbody tr").first).to_contain_text(ChangesRequestedV1.event_type)
    await expect(page.get_by_test_id("latency-p50")).to_contain_text(" ms")
    await expect(page.get_by_test_id("error-rate")).to_contain_text("%")
    await chart.get_by_text("The chart's figures as a table").click()  # closed again, for a screenshot of a page
    await expect(chart.get_by_role("table")).to_be_hidden()
    await screenshot(page, "ops-dashboard")

    await page.get_by_role("link", name="suomi").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ylläpidon näkymä — Hakemukset")
    await page.get_by_role("link", name="svenska").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Driftöversikt — Ansökningar")


async def test_a_submitter_is_refused_the_dashboard(page: Page) -> None:
    await _sign_in(page, SUBMITTER)
    response = await page.goto("/ops")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ei pääsyä")
    await expect(page.get_by_role("alert")).to_have_text("Tämä sivu vaatii roolin: ylläpitäjä. Roolisi: hakija.")
    live = await page.request.get("/ops/live")
    assert live.status == 403


async def test_a_malformed_message_is_a_dead_letter_the_operator_replays_then_discards_with_a_reason(
    page: Page, infra_env: dict[str, str]
) -> None:
    marker = f"not json {uuid.uuid4()}"
    await produce(infra_env["KIPINA_KAFKA_BOOTSTRAP"], ChangesRequestedV1.topic, key=b"k", value=marker.encode())
    db = await _intake_db()
    try:
        dead_letter_id = await eventually(
            lambda: db.fetchval("SELECT id FROM dead_letters WHERE convert_from(payload, 'UTF8') = $1", marker),
            what="the malformed message to become a dead letter",
        )
    finally:
        await db.close()

    await _sign_in(page, OPERATOR, then="/ops?lang=en")
    row = page.get_by_test_id(f"dead-letter-{dead_letter_id}")
    await expect(row).to_contain_text(marker)
    await expect(row).to_contain_text(ChangesRequestedV1.topic)
    await screenshot(page, "ops-dead-letters")

    await row.get_by_role("button", name=f"Replay #{dead_letter_id}").click()
    await expect(page).to_have_url(re.compile(r"/ops\?done=\d+"))
    notice = page.get_by_test_id("notice")
    await expect(notice).to_contain_text(f"Replay of dead letter {dead_letter_id}.")
    await expect(notice).to_contain_text("Failed: replay failed again: still malformed")
    log = page.get_by_test_id("actions")
    await expect(log.get_by_role("row").nth(1)).to_contain_text("operator")
    await expect(log.get_by_role("row").nth(1)).to_contain_text(f"Replay #{dead_letter_id}")
    await expect(page.get_by_test_id(f"dead-letter-{dead_letter_id}")).to_be_visible()  # still waiting

    # Discarding needs a reason: without one the field says so, and nothing changes.
    row = page.get_by_test_id(f"dead-letter-{dead_letter_id}")
    async with page.expect_response(f"**/dead-letters/{dead_letter_id}/discard") as answer:
        await row.get_by_role("button", name=f"Discard #{dead_letter_id}").click()
    assert (await answer.value).status == 422
    await expect(page.get_by_role("alert")).to_have_text("Say why the dead letter is discarded.")
    await expect(page.get_by_label(f"Reason to discard #{dead_letter_id}")).to_have_attribute("aria-invalid", "true")

    reason = "garbage from a test producer"
    await page.get_by_label(f"Reason to discard #{dead_letter_id}").fill(reason)
    await page.get_by_role("button", name=f"Discard #{dead_letter_id}").click()
    await expect(page.get_by_test_id("notice")).to_contain_text(f"Discard of dead letter {dead_letter_id}.")
    await expect(page.get_by_test_id(f"dead-letter-{dead_letter_id}")).to_have_count(0)
    latest = page.get_by_test_id("actions").get_by_role("row").nth(1)
    await expect(latest).to_contain_text(f"Discard #{dead_letter_id}")
    await expect(latest).to_contain_text(reason)
    await screenshot(page, "ops-dead-letter-discarded")

    db = await _intake_db()
    try:
        recorded = await db.fetch(
            "SELECT action, actor, succeeded, reason FROM dead_letter_actions WHERE dead_letter_id = $1 ORDER BY id",
            dead_letter_id,
        )
        discarded = await db.fetchrow(
            "SELECT discarded_by, discard_reason FROM dead_letters WHERE id = $1", dead_letter_id
        )
    finally:
        await db.close()
    operator_id = PEOPLE["operator"]["user_id"]
    assert [tuple(r) for r in recorded] == [
        ("replay", operator_id, False, None),
        ("discard", operator_id, True, reason),
    ]
    assert tuple(discarded) == (operator_id, reason)


async def test_a_dead_letter_whose_cause_went_away_is_replayed_and_then_processed(
    page: Page, infra_env: dict[str, str]
) -> None:
    # A sound event whose handling failed for a reason that then goes away (the case store refused it): intake's
    # consumer retried it and made it a dead letter, really, from the topic.
    case_id = str(uuid.uuid4())
    await _block([case_id])
    try:
        event_id = await _changes_requested(infra_env["KIPINA_KAFKA_BOOTSTRAP"], case_id)
        [dead_letter_id] = await _dead_lettered([case_id])
    finally:
        await _unblock()  # the cause goes away

    await _sign_in(page, OPERATOR, then="/ops?lang=en")
    handled_before = await _figure(page, "events-handled")
    row = page.get_by_test_id(f"dead-letter-{dead_letter_id}")
    await expect(row).to_contain_text(f"the case store refuses case {case_id}")
    await expect(row).to_contain_text(ChangesRequestedV1.topic)
    await row.get_by_role("button", name=f"Replay #{dead_letter_id}").click()
    await expect(page.get_by_test_id("notice")).to_contain_text(
        f"Replay of dead letter {dead_letter_id}. Done: handled"
    )
    # Moved back and processed: off the waiting list, one more event handled, and it is the latest event handled.
    await expect(page.get_by_test_id(f"dead-letter-{dead_letter_id}")).to_have_count(0)
    await expect(page.get_by_test_id("events-handled")).to_have_text(str(handled_before + 1))
    await expect(page.get_by_test_id(f"latest-{event_id}")).to_contain_text(case_id)
    await screenshot(page, "ops-dead-letter-replayed")
    db = await _intake_db()
    try:
        assert await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id) == 1
        assert await db.fetchval(
            "SELECT succeeded FROM dead_letter_actions WHERE dead_letter_id = $1 AND action = 'replay'", dead_letter_id
        )
    finally:
        await db.close()


async def test_replay_all_needs_a_confirmation_then_replays_every_waiting_dead_letter_and_shows_the_outcome(
    page: Page, infra_env: dict[str, str]
) -> None:
    db = await _intake_db()
    try:  # a clean slate: what other tests left waiting is not this test's
        await db.execute(
            """
            UPDATE dead_letters SET discarded_at = now(), discarded_by = 'test', discard_reason = 'not this test''s'
            WHERE replayed_at IS NULL AND discarded_at IS NULL
            """
        )
    finally:
        await db.close()
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    cases = [str(uuid.uuid4()) for _ in range(2)]
    garbage = f"not json {uuid.uuid4()}"
    await _block(cases)
    try:
        for case_id in cases:
            await _changes_requested(bootstrap, case_id)
        await produce(bootstrap, ChangesRequestedV1.topic, key=b"k", value=garbage.encode())
        ids = await _dead_lettered(cases, payloads=[garbage])
    finally:
        await _unblock()  # the two events can be handled now; the garbage never can

    await _sign_in(page, OPERATOR, then="/ops?lang=en")
    handled_before = await _figure(page, "events-handled")
    for dead_letter_id in ids:
        await expect(page.get_by_test_id(f"dead-letter-{dead_letter_id}")).to_be_visible()
    form = page.get_by_test_id("replay-all")
    # Not confirmed: refused at the box, nothing replayed.
    async with page.expect_response("**/dead-letters/replay-all") as answer:
        await form.get_by_role("button", name="Replay all").click()
    assert (await answer.value).status == 422
    await expect(page.get_by_role("alert")).to_have_text("Tick the box to confirm replaying them all.")
    confirm = page.get_by_label("Yes, replay all 3 waiting dead letters, oldest first (at most 500 at a time).")
    await expect(confirm).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_test_id("dead-letters").locator("tbody tr")).to_have_count(3)

    await confirm.check()
    await page.get_by_test_id("replay-all").get_by_role("button", name="Replay all").click()
    await expect(page.get_by_test_id("replay-all-outcome")).to_have_text("2 replayed, 1 failed again, 0 remain.")
    # The two moved back and were processed; the garbage waits still, and every replay is in the log.
    await expect(page.get_by_test_id("dead-letters").locator("tbody tr")).to_have_count(1)
    await expect(page.get_by_test_id("dead-letters")).to_contain_text(garbage)
    await expect(page.get_by_test_id("events-handled")).to_have_text(str(handled_before + 2))
    log = page.get_by_test_id("actions")
    for dead_letter_id in ids:
        await expect(log.get_by_role("row", name=re.compile(rf"Replay #{dead_letter_id}\b"))).to_have_count(1)
    await screenshot(page, "ops-replay-all")

    db = await _intake_db()
    try:
        recorded = await db.fetch(
            "SELECT dead_letter_id, succeeded FROM dead_letter_actions WHERE dead_letter_id = ANY($1) ORDER BY id", ids
        )
        handled = await db.fetchval("SELECT count(*) FROM inbox WHERE subject = ANY($1::text[])", cases)
        garbage_id = await db.fetchval("SELECT id FROM dead_letters WHERE convert_from(payload, 'UTF8') = $1", garbage)
    finally:
        await db.close()
    # In id order, each its own action; only the garbage failed again.
    assert [(r["dead_letter_id"], r["succeeded"]) for r in recorded] == [(i, i != garbage_id) for i in ids]
    assert handled == 2

    # After a request that stopped at its bound (here: as if it had reached the dead letter before the garbage), the
    # form continues after the last one it reached.
    await page.goto(f"/ops?lang=en&replayed=1&failed=0&skipped=0&remaining=1&last={garbage_id - 1}")
    await page.get_by_label(f"Yes, replay the 1 remaining after #{garbage_id - 1} (at most 500 at a time).").check()
    await page.get_by_test_id("replay-all").get_by_role("button", name="Replay the remaining").click()
    await expect(page.get_by_test_id("replay-all-outcome")).to_have_text("0 replayed, 1 failed again, 0 remain.")


async def test_the_dashboard_shows_intake_at_a_glance_and_its_funnel_follows_a_case(
    page: Page, intake_url: str, infra_env: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    title = f"Glance {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=intake_url) as client:
        created = await client.post(
            "/calls",
            headers=auth("operator", user="demo-operator"),
            json={
                "title": title,
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=7)).isoformat(),
                "categories": ["public_sector"],
                "languages": ["en"],
            },
        )
        assert created.status_code == 201, created.text
        call_id = created.json()["id"]
        await _sign_in(page, OPERATOR, then="/ops?lang=en")
        funnel = page.get_by_test_id("glance-funnel")
        await expect(funnel.locator("caption")).to_have_text("Cases per call and stage")
        await expect(funnel.locator("th")).to_have_text(
            ["Call", "Submitted", "In review", "Nominated", "Decided", "Results published", "Withdrawn", "Rejected"]
        )
        await expect(funnel.locator("tr", has_text=title)).to_have_count(0)

        submitted = await client.post(
            "/cases",
            headers=auth("submitter", user="demo-submitter"),
            json={
                "call_id": call_id,
                "title": f"Guided forms {uuid.uuid4().hex[:6]}",
                "summary": "A service that residents can use without calling the office.",
                "problem": "Residents wait weeks for answers that a guided form could give at once.",
                "solution": "A guided form checks the request with the resident and routes it to the right desk.",
                "organisation": {"name": "Example", "business_id": "0112038-9"},
                "team": [{"name": "Maija", "email": "maija@example.fi"}],
                "partners": [],
                "category": "public_sector",
                "language": "en",
                "oecd_principles": [1],
                "iso_stage": "concept",
            },
        )
        assert submitted.status_code == 201, submitted.text
        case_id = submitted.json()["id"]
    # No reload: the domain section is part of the live figures.
    row = funnel.locator("tr", has_text=title)
    await expect(row.locator("td")).to_have_text([title, "1", "0", "0", "0", "0", "0", "0"], timeout=LIVE)

    # Review asks for changes: intake's funnel moves the case on (changes asked are in review), and the event is the
    # latest one, linked to its case.
    payload = ChangesRequestedV1(
        case_id=uuid.UUID(case_id), call_id=uuid.UUID(call_id), iteration=1, reviewer_ids=["r"], comment="c"
    )
    await produce_event(
        infra_env["KIPINA_KAFKA_BOOTSTRAP"], make_event(payload, service="review", subject=case_id), topic=payload.topic
    )
    latest = page.get_by_test_id("latest-events")
    await expect(latest.get_by_role("link", name=case_id)).to_be_visible(timeout=LIVE)
    await expect(row.locator("td")).to_have_text([title, "0", "1", "0", "0", "0", "0", "0"], timeout=LIVE)
    # The case left "submitted" and waits in review.
    stages = page.get_by_test_id("glance-time-in-stage")
    await expect(stages.locator("tr", has_text=title).filter(has_text="Submitted").locator("td").nth(2)).to_have_text(
        "1"
    )
    await expect(stages.locator("tr", has_text=title).filter(has_text="In review").locator("td").nth(5)).to_have_text(
        "1"
    )
    await screenshot(page, "ops-dashboard-domain")

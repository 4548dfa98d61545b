"""Submission rate limits on the real intake app (Kafka, PostgreSQL): per submitter and per client address, a 429
``too_many_submissions`` with ``Retry-After``, ``X-Forwarded-For`` believed only from a trusted proxy, and the
submission page counted like the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.integration.intake.helpers import OPERATOR, call_body, case_body
from tests.support.harness import auth, running_app
from tests.support.infra import reset_database, unique_group
from tests.support.reliability import Reliability

pytestmark = pytest.mark.integration

GROUP = "Access control and secrets"
PER_SUBMITTER = 3
PER_ADDRESS = 5


@asynccontextmanager
async def intake(infra_env: dict[str, str], **env: str) -> AsyncIterator[httpx.AsyncClient]:
    """Intake with small limits (3 per submitter, 5 per address in a minute) and ``env`` applied. The test client
    connects from 127.0.0.1."""
    await reset_database(infra_env["KIPINA_INTAKE_DATABASE_URL"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIPINA_INTAKE_CONSUMER_GROUP", unique_group("intake-throttle"))
        mp.setenv("KIPINA_LOG_LEVEL", "WARNING")
        mp.setenv("KIPINA_INTAKE_SUBMISSIONS_PER_SUBMITTER_PER_MINUTE", str(PER_SUBMITTER))
        mp.setenv("KIPINA_INTAKE_SUBMISSIONS_PER_ADDRESS_PER_MINUTE", str(PER_ADDRESS))
        for key, value in env.items():
            mp.setenv(key, value)
        from services.intake.app import create

        async with running_app(create()) as client:
            yield client


def submitter(name: str) -> dict[str, str]:
    return auth("submitter", user=f"sub-{name}", org=f"org-{name}", name=name.title(), email=f"{name}@example.org")


async def submit(client: httpx.AsyncClient, call_id: str, who: dict[str, str], **headers: str) -> httpx.Response:
    return await client.post("/cases", json=case_body(call_id), headers={**who, **headers})


def assert_throttled(response: httpx.Response, *, by: str) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and body["retry_after_s"] == retry_after
    assert body["error"] == "too_many_submissions" and by in body["message"], body
    return retry_after


async def test_submissions_are_limited_per_submitter_and_per_address(
    infra_env: dict[str, str], reliability: Reliability
) -> None:
    row = reliability.row(GROUP, "submission rate limits: per submitter and per client address (429, Retry-After)")
    async with intake(infra_env) as client:
        call = (await client.post("/calls", json=call_body(), headers=OPERATOR)).json()
        answers: list[int] = []

        # A submitter's fourth submission in the minute is refused; nothing about it is stored.
        aino = submitter("aino")
        for _ in range(PER_SUBMITTER):
            answers.append((r := await submit(client, call["id"], aino)).status_code)
            assert r.status_code == 201, r.text
        refused = await submit(client, call["id"], aino)
        answers.append(refused.status_code)
        assert_throttled(refused, by="you have submitted 3 cases in the last minute")
        # An invalid body counts as an attempt too, and is refused as one before it is read.
        bad = await client.post("/cases", json={"call_id": call["id"]}, headers=aino)
        answers.append(bad.status_code)
        assert_throttled(bad, by="you have")

        # Another submitter from the same address has the address's rest (5 - 3), then the address is refused.
        bertta = submitter("bertta")
        for _ in range(PER_ADDRESS - PER_SUBMITTER):
            answers.append((r := await submit(client, call["id"], bertta)).status_code)
            assert r.status_code == 201, r.text
        by_address = await submit(client, call["id"], bertta)
        answers.append(by_address.status_code)
        assert_throttled(by_address, by="your address has submitted 5 cases")
        # X-Forwarded-For is not believed without a trusted proxy: a forged one changes nothing.
        forged = await submit(client, call["id"], submitter("cecilia"), **{"X-Forwarded-For": "203.0.113.7"})
        answers.append(forged.status_code)
        assert_throttled(forged, by="your address has")

        # Refusals come after the token's check: without one it is still 401, and reading is never limited.
        assert (await client.post("/cases", json=case_body(call["id"]))).status_code == 401
        listed = await client.get("/cases", headers=aino)
        assert listed.status_code == 200 and listed.json()["total"] == PER_SUBMITTER
        stored = (await client.get("/cases", headers=OPERATOR)).json()["total"]

    row.cases_driven = len(answers)
    row.fuzz_cases = len(answers)
    row.cases_lost = PER_ADDRESS - stored  # submissions within the limits that were not taken
    row.duplicates_seen = stored - PER_ADDRESS  # submissions past the limits that were taken
    row.notes = f"{answers.count(429)} refused with 429 of {len(answers)}"
    assert stored == PER_ADDRESS
    assert answers.count(201) == PER_ADDRESS and answers.count(429) == len(answers) - PER_ADDRESS


async def test_a_trusted_proxy_names_the_client(infra_env: dict[str, str]) -> None:
    async with intake(infra_env, KIPINA_INTAKE_TRUSTED_PROXIES="127.0.0.0/8, 10.0.0.0/8") as client:
        call = (await client.post("/calls", json=call_body(), headers=OPERATOR)).json()
        for i in range(PER_ADDRESS):  # the proxy's own address is used up ...
            assert (await submit(client, call["id"], submitter(f"local{i}"))).status_code == 201
        assert_throttled(await submit(client, call["id"], submitter("local9")), by="your address has")
        # ... but behind it each client is counted at its own address: the right-most hop that is not a trusted
        # proxy (a client can put anything left of it).
        office = {"X-Forwarded-For": "198.51.100.4, 10.1.2.3"}
        for i in range(PER_ADDRESS):
            assert (await submit(client, call["id"], submitter(f"office{i}"), **office)).status_code == 201
        assert_throttled(await submit(client, call["id"], submitter("office9"), **office), by="your address has")
        spoofed = {"X-Forwarded-For": "192.0.2.99, 198.51.100.4"}  # the client prepended a hop of its own
        assert_throttled(await submit(client, call["id"], submitter("spoof"), **spoofed), by="your address has")
        elsewhere = {"X-Forwarded-For": "192.0.2.50"}
        assert (await submit(client, call["id"], submitter("elsewhere"), **elsewhere)).status_code == 201


async def test_the_submission_page_counts_like_the_api(infra_env: dict[str, str]) -> None:
    async with intake(infra_env) as client:
        call = (await client.post("/calls", json=call_body(), headers=OPERATOR)).json()
        dora = submitter("dora")
        form_page = await client.get(f"/submitter/calls/{call['id']}/submit", headers=dora)
        assert form_page.status_code == 200, form_page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text)
        assert found, "the submission form has no CSRF field"
        form = {"csrf_token": found.group(1), "title": "x"}  # far from a whole case: each attempt is 422
        for _ in range(PER_SUBMITTER):
            attempt = await client.post(f"/submitter/calls/{call['id']}/submit", data=form, headers=dora)
            assert attempt.status_code == 422, attempt.text[:500]
        throttled = await client.post(f"/submitter/calls/{call['id']}/submit", data=form, headers=dora)
        assert throttled.status_code == 429 and 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert "you have submitted 3 cases in the last minute" in throttled.text
        # The page and the API share the count.
        assert_throttled(await submit(client, call["id"], dora), by="you have")

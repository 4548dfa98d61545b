"""Demo data and the welcome text printed by ``make up``.

Loads (idempotently) a demo call, its jury and one submitted case through the
services' HTTP APIs, then prints the URLs and a development token for each role.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.demo import PEOPLE, demo_token
from shared.settings import ServiceSettings
from shared.vocabulary import Category, Language

DEMO_CALL_TITLE = "Quality Innovation Award 2027 (demo)"


def tokens() -> dict[str, str]:
    settings = ServiceSettings()
    return {who: demo_token(who, settings=settings, ttl=timedelta(days=7)) for who in PEOPLE}


def _headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise SystemExit(f"demo data: {what} failed: HTTP {response.status_code} {response.text}")
    return response.json() if response.content else None


def wait_until_awards_knows_call(
    http: httpx.Client, awards_url: str, call_id: str, headers: dict[str, str], *, timeout_s: float = 60.0
) -> None:
    """Awards learns a call from intake's announcement (CallAnnouncedV1), moments after it is created; until
    then it answers 404 for the call's jury. Waits for that, or stops with a message that says what is wrong."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = http.get(f"{awards_url}/calls/{call_id}/criteria", headers=headers)
        if response.status_code == 200:
            return
        if response.status_code != 404:
            _check(response, "ask awards about the demo call")
        if time.monotonic() > deadline:
            raise SystemExit(
                f"demo data: awards has not learned call {call_id} within {timeout_s:.0f}s: is awards consuming "
                f"intake's topic? (last answer: HTTP {response.status_code} {response.text})"
            )
        time.sleep(0.5)


def load_demo_data(urls: dict[str, str], tok: dict[str, str]) -> dict[str, str]:
    """Create the demo call, jury and case unless they exist; returns their ids."""
    with httpx.Client(timeout=15) as http:
        operator = _headers(tok["operator"])
        calls = _check(http.get(f"{urls['intake']}/calls", params={"limit": 100}, headers=operator), "list calls")
        call = next((c for c in calls["items"] if c["title"] == DEMO_CALL_TITLE), None)
        if call is None:
            now = datetime.now(UTC)
            call = _check(
                http.post(
                    f"{urls['intake']}/calls",
                    headers=operator,
                    json={
                        "title": DEMO_CALL_TITLE,
                        "description": "Demo call: public-sector innovations of the year.",
                        "opens_at": (now - timedelta(days=1)).isoformat(),
                        "closes_at": (now + timedelta(days=90)).isoformat(),
                        "categories": [str(c) for c in Category],
                        "languages": [str(lang) for lang in Language],
                        "reviewers_per_iteration": 1,
                    },
                ),
                "create call",
            )
        wait_until_awards_knows_call(http, urls["awards"], call["id"], operator)
        jurors = [
            {
                "user_id": PEOPLE[j]["user_id"],
                "name": PEOPLE[j]["name"],
                "email": PEOPLE[j]["email"],
                "language": PEOPLE[j]["language"],
                "organisation_id": PEOPLE[j]["organisation_id"],
                "conflicts": [],
            }
            for j in ("juror-1", "juror-2")
        ]
        _check(
            http.put(
                f"{urls['awards']}/calls/{call['id']}/jury",
                headers=operator,
                json={"jurors": jurors, "jurors_per_case": 2},
            ),
            "set jury",
        )
        case = _check(
            http.post(
                f"{urls['intake']}/cases",
                headers=_headers(tok["submitter"], **{"Idempotency-Key": "demo-case-1"}),
                json={
                    "call_id": call["id"],
                    "title": "Chatbot for building permits",
                    "summary": "A multilingual assistant that guides residents through building permit applications.",
                    "problem": "Half of permit applications come back incomplete, which costs residents weeks.",
                    "solution": "A guided assistant checks the application with the resident before it is filed.",
                    "organisation": {"name": "Example City", "business_id": "0112038-9"},
                    "team": [{"name": "Tiina Team", "email": "tiina@example-city.fi", "language": "fi"}],
                    "partners": [{"name": "Pekka Partner", "email": "pekka@partner.example", "language": "en"}],
                    "category": "public_sector",
                    "language": "fi",
                    "oecd_principles": [1, 4],
                    "iso_stage": "validation",
                    "drivers": ["customer needs", "productivity"],
                    "obstacles": ["time"],
                },
            ),
            "submit demo case",
        )
    return {"call_id": call["id"], "case_id": case["id"]}


def main(*, with_demo: bool = True) -> None:
    from deploy.stack import SERVICES, _state

    urls = {s.name: s.url for s in SERVICES}
    tok = tokens()
    ids = load_demo_data(urls, tok) if with_demo else {}
    out = sys.stdout
    print("\nKipinä is up.\n", file=out)
    for s in SERVICES:
        print(
            f"  {s.name:7} {s.url}/docs   (events: {s.url}/asyncapi, health: {s.url}/health/ready, "
            f"metrics: {s.url}/metrics)",
            file=out,
        )
    print(f"\n  sign in to the pages (development: pick a demo person): {urls['intake']}/sign-in", file=out)
    print("  each service's home page: " + ", ".join(f"{s.url}/" for s in SERVICES), file=out)
    print("  operator dashboards: " + ", ".join(f"{s.url}/ops" for s in SERVICES), file=out)
    print(
        f"  workbenches: submitter {urls['intake']}/submitter/calls, reviewer {urls['review']}/reviewer, "
        f"juror {urls['awards']}/juror, operator {urls['intake']}/operator/calls",
        file=out,
    )
    print(f"\n  emails sent by notify are stored in {_state() / 'mail'}", file=out)
    print(f"  logs: {_state() / 'logs'}", file=out)
    if ids:
        print(f"\n  demo call {ids['call_id']} ({DEMO_CALL_TITLE}), demo case {ids['case_id']}", file=out)
    print("\nDevelopment tokens (valid 7 days; mint more with `.venv/bin/kipina token --role ...`):", file=out)
    for who, token in tok.items():
        print(f"\n  {who} ({PEOPLE[who]['user_id']}, org {PEOPLE[who]['organisation_id']}):\n  {token}", file=out)
    print(f'\nTry:  curl -H "Authorization: Bearer $TOKEN" {urls["intake"]}/cases\n', file=out)

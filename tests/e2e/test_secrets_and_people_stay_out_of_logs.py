"""No personal data and no secrets in the logs: a case with people of its own goes through the four services (as
processes, their logs in files), and every line they logged at INFO or above is read for the e-mail addresses,
names, tokens and secrets the test used, and for any e-mail address or JWT at all.

It runs after the package's other journeys (its module sorts last), so their lines are read too: none may hold an
e-mail address or a token either.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from services.notify.sealing import DEV_WEBHOOK_SECRET_KEY
from shared.settings import DEV_JWT_SECRET
from tests.e2e.steps import OPERATOR, REVIEWER, claim_task_of, ok
from tests.support.harness import auth, eventually
from tests.support.infra import database_env_name
from tests.support.reliability import Reliability
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
QUIET = {"debug", "notset"}


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def logged_lines(text: str) -> list[tuple[str, str]]:
    """(level, line) of each line at INFO or above; a line that is not JSON (a library printing on its own)
    counts as above INFO."""
    lines = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            level = str(json.loads(line).get("level", "info")).lower()
        except (ValueError, AttributeError):
            level = "unstructured"
        if level not in QUIET:
            lines.append((level, line))
    return lines


async def review_withdrew(stack: Any, case_id: str) -> bool | None:
    """Review has logged handling the case's withdrawal (a fact in its log, like any other)."""
    lines = stack.log("review").splitlines()
    return any(case_id in line and "case withdrawn; open tasks cancelled" in line for line in lines) or None


async def test_no_personal_data_or_secret_reaches_the_logs(
    stack: Any, infra_env: dict[str, str], webhook_receiver: WebhookReceiver, reliability: Reliability
) -> None:
    row = reliability.row("Access control and secrets", "no personal data or secrets in the logs at INFO and above")
    intake, review, notify = (stack.urls[s] for s in ("intake", "review", "notify"))
    tag = uuid.uuid4().hex[:8]
    people = {
        "submitter": (f"Ilmari Lokinen{tag}", f"ilmari.{tag}@lokitesti.example"),
        "team": (f"Tyyne Tiimi{tag}", f"tyyne.{tag}@lokitesti.example"),
        "partner": (f"Paavo Kumppani{tag}", f"paavo.{tag}@kumppani.example"),
    }
    submitter_name, submitter_email = people["submitter"]
    submitter = auth(
        "submitter", user=f"sub-logs-{tag}", org="org-logs", lang="en", email=submitter_email, name=submitter_name
    )
    webhook_secret = f"agency-webhook-secret-{tag}"
    withdrawal_reason = f"{submitter_name} filed this too early; write to {submitter_email}"

    async with httpx.AsyncClient(timeout=20) as http:
        now = datetime.now(UTC)
        call = ok(
            await http.post(
                f"{intake}/calls",
                headers=OPERATOR,
                json={
                    "title": f"Logging check {tag}",
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                    "categories": ["public_sector"],
                    "languages": ["en"],
                },
            ),
            201,
        )
        ok(
            await http.post(
                f"{notify}/webhooks",
                headers=OPERATOR,
                json={"url": webhook_receiver.url, "secret": webhook_secret, "event_types": []},
            ),
            201,
        )
        body = {
            "call_id": call["id"],
            "title": f"Lokiton palvelu {tag}",
            "summary": "A service that keeps residents' data to itself.",
            "problem": "Personal data spreads into places nobody reads until it leaks.",
            "solution": "Every copy is named, kept short and checked before it is written.",
            "organisation": {"name": "Lokikaupunki", "business_id": "0112038-9"},
            "team": [{"name": people["team"][0], "email": people["team"][1], "language": "fi"}],
            "partners": [{"name": people["partner"][0], "email": people["partner"][1], "language": "sv"}],
            "category": "public_sector",
            "language": "en",
            "oecd_principles": [1],
            "iso_stage": "concept",
        }
        # A refused body that quotes personal data back must not be logged either.
        refused = await http.post(
            f"{intake}/cases", headers=submitter, json={**body, "team": [{"name": submitter_name, "email": "x"}]}
        )
        assert refused.status_code == 422
        case = ok(await http.post(f"{intake}/cases", headers=submitter, json=body), 201)
        case_id = case["id"]
        row.cases_driven = 1

        # Every service has handled the case and its people: notify mailed the submitter and the team (partners
        # hear of results only), review opened a task; notify stored the partner with the case's directory.
        async def mailed(address: str, count: int = 1) -> bool | None:
            return len(stack.mailbox.to(address)) >= count or None

        async def hooked(event_type: str) -> bool | None:
            return any(e["type"] == event_type for e in webhook_receiver.events(subject=case_id)) or None

        for address in (submitter_email, people["team"][1]):
            await eventually(lambda a=address: mailed(a), timeout=60, what=f"mail to {address}")
        await claim_task_of(http, review, case_id)
        ok(await http.post(f"{intake}/cases/{case_id}/withdraw", headers=submitter, json={"reason": withdrawal_reason}))
        await eventually(lambda: mailed(submitter_email, 2), timeout=60, what="the withdrawal confirmed")
        await eventually(lambda: review_withdrew(stack, case_id), timeout=60, what="review handling the withdrawal")
        await eventually(lambda: hooked("kipina.case.withdrawn.v1"), timeout=60, what="the webhook told of it")

    secrets = {
        **{f"{role} name": name for role, (name, _) in people.items()},
        **{f"{role} e-mail": address for role, (_, address) in people.items()},
        "submitter's token": bearer(submitter),
        "operator's token": bearer(OPERATOR),
        "reviewer's token": bearer(REVIEWER),
        "webhook secret": webhook_secret,
        "JWT signing secret": DEV_JWT_SECRET,
        "webhook sealing key": DEV_WEBHOOK_SECRET_KEY,
    }
    for service in stack.urls:
        password = urlsplit(infra_env[database_env_name(service)]).password
        if password:
            secrets[f"{service}'s database password"] = password
    leaks: list[str] = []
    read = 0
    for service in stack.urls:
        for level, line in logged_lines(stack.log(service)):
            read += 1
            leaks += [f"{service} ({level}): {what}: {line[:300]}" for what, value in secrets.items() if value in line]
            leaks += [f"{service} ({level}): an e-mail address: {line[:300]}" for _ in EMAIL.findall(line)[:1]]
            leaks += [f"{service} ({level}): a JWT: {line[:300]}" for _ in JWT.findall(line)[:1]]
    row.fuzz_cases = len(secrets)
    row.notes = f"{read} lines of 4 services read for {len(secrets)} values; {len(leaks)} leaks"
    assert read > 0 and all(stack.log(s) for s in stack.urls)
    assert not leaks, "\n".join(leaks[:20])

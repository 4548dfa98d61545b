"""Every cell of the access table (tests/support/access.py), asked of the four services for real.

The four services run in this process against the real Kafka and PostgreSQL. The setup makes what the cells need
through the public API: a call with a jury; alice's case, nominated in review and assigned to one of two jurors in
awards; bob's case, whose review task rita holds; alice's in-app notifications; a webhook; and a dead letter in
each service (a record that is no event). Then each cell is one request with a token of its role, by a person whose
relation to the resource is the cell's (alice or bob for a case, rita or ronja for rita's task, the assigned juror
or the other one, a reviewer of alice's organisation or of another), and its answer must be the cell's outcome:
401 (or a page's redirect to sign in), 403, 404, or allowed (not one of those, and never a 5xx).

Refused cells change nothing, so they go first; then the allowed ones: reads, then changes, each service's in table
order (a recusal after the scores, a withdrawal last), so no cell takes away what a later one needs. Development
sign-in is on, so its form answers as in ``make up``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from shared import registry
from shared.vocabulary import Role
from shared.web import session
from tests.support import access
from tests.support.access import CASE, EVALUATION, FEED_ITEM, REVIEWED_CASE, TASK, Cell, Outcome, Relation
from tests.support.harness import auth, eventually, four_services
from tests.support.kafka import produce
from tests.support.reliability import Reliability

pytestmark = pytest.mark.integration

OPERATOR = ("op-access", "org-ops")
ALICE = ("alice-access", "org-alice")
BOB = ("bob-access", "org-bob")
RITA = ("rita-access", "org-rita")  # holds bob's task
RONJA = ("ronja-access", "org-ronja")
ROLF = ("rolf-access", ALICE[1])  # a reviewer of alice's organisation
NINA = ("nina-access", "org-nina")  # nominates alice's case
JURORS = {"jury-one-access": "org-jury-one", "jury-two-access": "org-jury-two"}
# Whoever acts where whose the resource is does not matter.
DEFAULT = {
    Role.SUBMITTER: ("sam-access", "org-sam"),
    Role.REVIEWER: ("rex-access", "org-rex"),
    Role.JUROR: ("jules-access", "org-jules"),
    Role.OPERATOR: OPERATOR,
}
CRITERIA = ("impact", "novelty", "feasibility", "scalability", "evidence")


def bearer(role: Role, who: tuple[str, str]) -> dict[str, str]:
    return auth(str(role), user=who[0], org=who[1])


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


@dataclass
class World:
    clients: dict[str, httpx.AsyncClient]
    params: dict[str, dict[str, str]]  # per service: path parameter → value
    assigned_juror: tuple[str, str]
    unassigned_juror: tuple[str, str]
    secret: str

    def person(self, cell: Cell) -> tuple[str, str]:
        assert cell.role is not None
        resource, relation = cell.endpoint.resource, cell.relation
        if relation is None or resource is None:
            return DEFAULT[cell.role]
        own = relation is Relation.OWN
        if resource is FEED_ITEM:
            return ALICE if own else DEFAULT[cell.role]
        if resource in (CASE, REVIEWED_CASE) and cell.role is Role.SUBMITTER:
            return ALICE if own else BOB
        if resource is REVIEWED_CASE and cell.role is Role.REVIEWER:
            return ROLF if own else RITA
        if resource is TASK:
            return RITA if own else RONJA
        if resource is EVALUATION:
            return self.assigned_juror if own else self.unassigned_juror
        raise AssertionError(f"no person for {cell}")


def _case_body(call_id: str, title: str, organisation: str) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "title": title,
        "summary": "A case the access matrix reads, changes and is refused.",
        "problem": "Who may see a case must be proven, not assumed.",
        "solution": "Every endpoint is asked by every role, for cases of their own and of others.",
        "organisation": {"name": organisation, "business_id": "0112038-9"},
        "category": "public_sector",
        "language": "en",
        "oecd_principles": [1],
        "iso_stage": "concept",
    }


async def _claim(review: httpx.AsyncClient, who: tuple[str, str], case_id: str) -> str:
    """``who`` claims tasks until the case's comes up; the others go back to the queue."""
    held: list[str] = []
    headers = bearer(Role.REVIEWER, who)

    async def claim() -> str | None:
        response = await review.post("/tasks/claim", headers=headers)
        if response.status_code == 204:
            return None
        task = ok(response)
        if task["case_id"] == case_id:
            return str(task["task_id"])
        held.append(task["task_id"])
        return None

    try:
        return await eventually(claim, timeout=60, what=f"a review task of case {case_id}")
    finally:
        for task_id in held:
            ok(await review.post(f"/tasks/{task_id}/release", headers=headers))


async def _dead_letter(client: httpx.AsyncClient) -> str:
    async def first() -> str | None:
        page = ok(await client.get("/ops/dead-letters", headers=bearer(Role.OPERATOR, OPERATOR)))
        return str(page["items"][0]["id"]) if page["items"] else None

    return await eventually(first, timeout=60, what="a dead letter")


async def build_world(clients: dict[str, httpx.AsyncClient], bootstrap: str, secret: str) -> World:
    intake, review, awards, notify = (clients[s] for s in ("intake", "review", "awards", "notify"))
    op = bearer(Role.OPERATOR, OPERATOR)
    now = datetime.now(UTC)
    call = ok(
        await intake.post(
            "/calls",
            headers=op,
            json={
                "title": "Access matrix call",
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=7)).isoformat(),
                "categories": ["public_sector"],
                "languages": ["en"],
            },
        ),
        201,
    )
    call_id = call["id"]

    async def awards_knows_call() -> bool:
        return (await awards.get(f"/calls/{call_id}/criteria", headers=op)).status_code == 200

    await eventually(awards_knows_call, timeout=60, what="awards learning the call")
    jurors = [{"user_id": u, "name": u, "organisation_id": o, "conflicts": []} for u, o in JURORS.items()]
    ok(await awards.put(f"/calls/{call_id}/jury", headers=op, json={"jurors": jurors, "jurors_per_case": 1}))
    alice_case = ok(
        await intake.post(
            "/cases",
            headers=bearer(Role.SUBMITTER, ALICE),
            json=_case_body(call_id, "Alice's permit assistant", "Alice City"),
        ),
        201,
    )["id"]
    bob_case = ok(
        await intake.post(
            "/cases", headers=bearer(Role.SUBMITTER, BOB), json=_case_body(call_id, "Bob's library robot", "Bob Town")
        ),
        201,
    )["id"]
    nominated = await _claim(review, NINA, alice_case)
    ok(
        await review.post(
            f"/tasks/{nominated}/decision",
            headers=bearer(Role.REVIEWER, NINA),
            json={"decision": "nominate", "comment": "Nominated for the matrix."},
        )
    )
    rita_task = await _claim(review, RITA, bob_case)

    async def assigned() -> str | None:
        response = await awards.get(f"/evaluations/{alice_case}", headers=op)
        jurors = response.json().get("jurors", []) if response.status_code == 200 else []
        return str(jurors[0]["juror_id"]) if jurors else None

    juror = await eventually(assigned, timeout=60, what="a juror assigned to alice's case")
    other = next(u for u in JURORS if u != juror)

    async def alices_item() -> str | None:
        page = ok(await notify.get("/feed", headers=bearer(Role.SUBMITTER, ALICE)))
        return str(page["items"][0]["id"]) if page["items"] else None

    item = await eventually(alices_item, timeout=60, what="an in-app notification of alice's")
    webhook = ok(
        await notify.post(
            "/webhooks",
            headers=op,
            json={"url": "https://hooks.example.org/kipina", "secret": "s" * 32, "event_types": []},
        ),
        201,
    )["id"]
    # A record that is no event, on topics every service consumes one of: each dead-letters it.
    for topic in (registry.INTAKE.topic, registry.REVIEW.topic):
        await produce(bootstrap, topic, key=b"access-matrix", value=b"not an event")
    letters = {s: await _dead_letter(c) for s, c in clients.items()}
    shared = {"call_id": call_id, "case_id": alice_case}
    params = {
        "intake": shared,
        "review": {**shared, "task_id": rita_task},
        "awards": shared,
        "notify": {**shared, "item_id": item, "webhook_id": webhook},
    }
    for service, letter in letters.items():
        params[service] = {**params[service], "dead_letter_id": letter}
    return World(
        clients=clients,
        params=params,
        assigned_juror=(juror, JURORS[juror]),
        unassigned_juror=(other, JURORS[other]),
        secret=secret,
    )


# --------------------------------------------------------------------------- one request per cell


def _json_body(cell: Cell) -> dict[str, Any] | None:
    """A body that passes validation where the answer depends on whose the resource is (a use case looks it up
    only for a valid request); elsewhere an empty one, which an admitted caller has refused as invalid (422) and
    so changes nothing."""
    e = cell.endpoint
    if e.method in ("GET", "DELETE") or e.path.endswith(("/release", "/read", "/withdraw", "/replay", "replay-all")):
        return None if e.method in ("GET", "DELETE") or not e.path.endswith("/withdraw") else {"reason": "matrix"}
    if e.path.endswith("/revisions"):
        return {"change_note": "a revision from the access matrix"}
    if e.path.endswith("/decision") and e.service == "review":
        return {"decision": "request_changes", "comment": "From the access matrix."}
    if e.path.endswith("/scores"):
        return {"scores": [{"criterion": c, "score": 3, "comment": "matrix"} for c in CRITERIA]}
    if e.path.endswith("/conflict"):
        return {"reason": "The access matrix recuses."}
    return {}


def _path(cell: Cell, params: dict[str, str]) -> str:
    path = cell.endpoint.path
    for name, value in params.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


async def ask(world: World, cell: Cell) -> httpx.Response:
    e = cell.endpoint
    client = world.clients[e.service]
    headers = bearer(cell.role, world.person(cell)) if cell.role is not None else {}
    path = _path(cell, world.params[e.service])
    if e.page and e.method == "POST":
        # A form with a valid CSRF token, so a 403 is the role's and not the form's.
        nonce = uuid.uuid4().hex
        headers = {**headers, "Cookie": f"{session.CSRF_COOKIE}={nonce}"}
        form = {session.CSRF_FIELD: session.csrf_token(world.secret, nonce)}
        return await client.post(path, headers=headers, data=form)
    body = _json_body(cell)
    if body is None:
        return await client.request(e.method, path, headers=headers)
    return await client.request(e.method, path, headers=headers, json=body)


def outcome(cell: Cell, response: httpx.Response) -> Outcome | None:
    """The outcome the answer shows, or None for an answer no cell may give (a 5xx)."""
    status = response.status_code
    if status >= 500:
        return None
    if cell.endpoint.page and status == 303 and response.headers.get("location", "").startswith("/sign-in"):
        # Signing out sends anyone back to sign in: for a public page that is its work, not a refusal.
        return Outcome.ALLOWED if cell.endpoint.grants is None else Outcome.SIGN_IN
    return {401: Outcome.UNAUTHENTICATED, 403: Outcome.FORBIDDEN, 404: Outcome.HIDDEN}.get(status, Outcome.ALLOWED)


def order(cells: list[Cell]) -> list[Cell]:
    """Refusals first (they change nothing), then reads, then changes, API and pages alike; each service's in table
    order (which puts a juror's recusal last of awards'), intake's last (a withdrawal reaches the other services).
    A reviewer's decision comes before the releases: a decided task stays theirs, and releasing it is a conflict."""
    services = ["notify", "review", "awards", "intake"]

    def key(item: tuple[int, Cell]) -> tuple[int, int, int]:
        index, cell = item
        if cell.expected is not Outcome.ALLOWED:
            phase = 0
        elif cell.endpoint.method == "GET":
            phase = 1
        else:
            phase = 2
        return phase, services.index(cell.endpoint.service), index

    return [c for _, c in sorted(enumerate(cells), key=key)]


# --------------------------------------------------------------------------- the test


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra_env: dict[str, str]) -> AsyncIterator[World]:
    env = {"KIPINA_NOTIFY_DELIVERY_POLL_S": "0.2", "KIPINA_DEV_SIGN_IN": "true"}
    async with four_services(infra_env, group="access", env=env) as services:
        secret = services.apps["intake"].state.settings.jwt_secret.get_secret_value()
        yield await build_world(services.clients, infra_env["KIPINA_KAFKA_BOOTSTRAP"], secret)


async def test_every_cell_answers_as_the_table_says(world: World, reliability: Reliability) -> None:
    row = reliability.row("Access control and secrets", "endpoint × role × own/other's matrix")
    cells = access.cells()
    row.notes = f"{len(access.TABLE)} endpoints and pages of the four services"
    wrong: list[str] = []
    for cell in order(cells):
        response = await ask(world, cell)
        row.fuzz_cases += 1
        got = outcome(cell, response)
        if got is not cell.expected:
            wrong.append(f"{cell}, but answered {response.status_code} {response.text[:160]!r}")
    assert not wrong, f"{len(wrong)} of {len(cells)} cells answered otherwise:\n" + "\n".join(wrong)

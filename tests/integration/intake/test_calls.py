"""Intake owns calls: it announces each revision of a call on its topic, keyed by the call."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.intake import jobs
from services.intake.settings import IntakeSettings
from shared import topics
from shared.db import apply_migrations, create_pool
from shared.events import QUALITY_INNOVATION_AWARD_CRITERIA, CallAnnouncedV1, parse_event
from shared.runtime import Runtime
from tests.integration.intake.helpers import ALICE, OPERATOR, call_body, envelope, new_call, read_events
from tests.support.infra import own_database, reset_database

pytestmark = pytest.mark.integration

INTAKE_MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "intake" / "migrations"
QIA_KEYS = [c.key for c in QUALITY_INNOVATION_AWARD_CRITERIA]
IMPACT = {"key": "impact", "name": "Impact", "weight": 3, "scale_min": 1, "scale_max": 10, "description": "Effect."}


async def test_a_new_call_is_announced_with_its_criteria(client: httpx.AsyncClient, bootstrap: str) -> None:
    correlation = str(uuid.uuid4())
    r = await client.post("/calls", json=call_body(), headers={**OPERATOR, "X-Correlation-ID": correlation})
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["revision"] == 1
    assert [c["key"] for c in call["criteria"]] == QIA_KEYS  # the Quality Innovation Award's, when left out

    [record] = await read_events(bootstrap, topics.INTAKE, key=call["id"], count=1)
    event = envelope(record)
    assert (event["type"], event["source"], event["subject"]) == (
        CallAnnouncedV1.event_type,
        "/kipina/intake",
        call["id"],
    )
    assert event["correlationid"] == correlation
    announced = CallAnnouncedV1.model_validate(event["data"])
    assert str(announced.call_id) == call["id"] and announced.revision == 1
    assert announced.title == call["title"] and announced.description == call["description"]
    assert [c.value for c in announced.categories] == call["categories"]
    assert [lang.value for lang in announced.languages] == call["languages"]
    assert announced.reviewers_per_iteration == 2
    assert announced.criteria == list(QUALITY_INNOVATION_AWARD_CRITERIA)

    custom = await new_call(client, criteria=[IMPACT])
    assert custom["criteria"] == [IMPACT]
    [record] = await read_events(bootstrap, topics.INTAKE, key=custom["id"], count=1)
    assert [c.model_dump() for c in CallAnnouncedV1.model_validate(envelope(record)["data"]).criteria] == [IMPACT]


async def test_a_changed_call_is_announced_at_its_next_revision(
    client: httpx.AsyncClient, bootstrap: str, db: asyncpg.Connection
) -> None:
    call = await new_call(client)
    closes_at = datetime.fromisoformat(call["closes_at"]) + timedelta(days=14)
    r = await client.patch(
        f"/calls/{call['id']}",
        json={"closes_at": closes_at.isoformat(), "criteria": [IMPACT], "languages": ["sv", "sv", "fi"]},
        headers=OPERATOR,
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["revision"] == 2 and changed["criteria"] == [IMPACT] and changed["languages"] == ["sv", "fi"]
    assert datetime.fromisoformat(changed["closes_at"]) == closes_at
    assert (changed["title"], changed["categories"]) == (call["title"], call["categories"])
    assert (await client.get(f"/calls/{call['id']}", headers=ALICE)).json() == changed

    r = await client.patch(f"/calls/{call['id']}", json={"description": "Now described"}, headers=OPERATOR)
    assert r.status_code == 200 and r.json()["revision"] == 3

    records = await read_events(bootstrap, topics.INTAKE, key=call["id"], count=3)
    announced = [CallAnnouncedV1.model_validate(envelope(r)["data"]) for r in records]
    assert [(a.revision, [c.key for c in a.criteria], a.description) for a in announced] == [
        (1, QIA_KEYS, call["description"]),
        (2, ["impact"], call["description"]),
        (3, ["impact"], "Now described"),
    ]
    assert announced[2].closes_at == closes_at
    assert await db.fetchval("SELECT revision FROM calls WHERE id = $1", uuid.UUID(call["id"])) == 3


async def test_call_changes_are_checked_like_a_new_call(
    client: httpx.AsyncClient, bootstrap: str, db: asyncpg.Connection
) -> None:
    call = await new_call(client)
    path = f"/calls/{call['id']}"
    opens_at = datetime.fromisoformat(call["opens_at"])

    r = await client.patch(path, json={"closes_at": (opens_at - timedelta(hours=1)).isoformat()}, headers=OPERATOR)
    assert r.status_code == 422
    assert r.json()["problems"] == [{"field": "closes_at", "problem": "closes_at must be after opens_at"}]

    twice = [IMPACT, {**IMPACT, "name": "Impact again"}]
    r = await client.patch(path, json={"criteria": twice}, headers=OPERATOR)
    assert r.status_code == 422 and "repeated: impact" in r.json()["message"]
    r = await client.post("/calls", json=call_body(criteria=[{**IMPACT, "scale_max": 1}]), headers=OPERATOR)
    assert r.status_code == 422 and "criteria.0.scale_max" in r.json()["message"]

    r = await client.patch(path, json={}, headers=OPERATOR)
    assert r.status_code == 422 and r.json()["error"] == "nothing_to_change"
    r = await client.patch(path, json={"title": "Renamed", "reviewers_per_iteration": 1}, headers=OPERATOR)
    assert r.status_code == 422
    assert {p["field"] for p in r.json()["problems"]} == {"title", "reviewers_per_iteration"}
    r = await client.patch(path, json={"categories": []}, headers=OPERATOR)
    assert r.status_code == 422

    assert (await client.patch(path, json={"description": "x"}, headers=ALICE)).status_code == 403
    assert (await client.patch(path, json={"description": "x"})).status_code == 401
    missing = uuid.uuid4()
    r = await client.patch(f"/calls/{missing}", json={"description": "x"}, headers=OPERATOR)
    assert r.status_code == 404 and r.json()["message"] == f"call {missing} does not exist"

    # None of the refusals changed the call or announced anything: its outbox holds the one announcement of
    # revision 1 (a refused change rolls back with its outbox row).
    assert (await client.get(path, headers=ALICE)).json()["revision"] == 1
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE message_key = $1", call["id"]) == 1
    [record] = await read_events(bootstrap, topics.INTAKE, key=call["id"], count=1)
    assert CallAnnouncedV1.model_validate(envelope(record)["data"]).revision == 1


async def test_calls_from_before_announcements_get_the_award_criteria_and_are_announced_once(
    infra_env: dict[str, str], tmp_path: Path
) -> None:
    if not infra_env.get("KIPINA_PG_ADMIN_URL"):
        pytest.skip("needs a database of its own (KIPINA_PG_ADMIN_URL), not the one the intake fixture uses")
    url = await own_database(infra_env, "intake", "intake_calls_upgrade_test")
    await reset_database(url)
    # The database as it was before calls were announced: the shared migrations and intake's first.
    before = tmp_path / "migrations"
    before.mkdir()
    shutil.copy(INTAKE_MIGRATIONS / "0100.intake.sql", before)
    await apply_migrations(url, before)
    call_id = uuid.uuid4()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            INSERT INTO calls (id, title, opens_at, closes_at, categories, languages, created_by)
            VALUES ($1, 'Quality Innovation Award 2025', now() - interval '1 day', now() + interval '1 day',
                    '{public_sector}', '{fi}', 'op-1')
            """,
            call_id,
        )
        await apply_migrations(url, INTAKE_MIGRATIONS)
        row = await conn.fetchrow("SELECT criteria, revision, announced FROM calls WHERE id = $1", call_id)
        assert json.loads(row["criteria"]) == [c.model_dump() for c in QUALITY_INNOVATION_AWARD_CRITERIA]
        assert (row["revision"], row["announced"]) == (1, False)

        pool = await create_pool(url)
        runtime = Runtime(settings=IntakeSettings(), service="intake", publishes=[CallAnnouncedV1], pool=pool)
        try:
            await jobs.announce_unannounced_calls(runtime)
            await jobs.announce_unannounced_calls(runtime)  # as at the next start: nothing left to announce
        finally:
            await pool.close()

        [outbox] = await conn.fetch("SELECT event_type, payload FROM outbox WHERE message_key = $1", str(call_id))
        assert outbox["event_type"] == CallAnnouncedV1.event_type
        announced = CallAnnouncedV1.model_validate(parse_event(outbox["payload"]).data)
        assert (announced.revision, announced.title) == (1, "Quality Innovation Award 2025")
        assert announced.criteria == list(QUALITY_INNOVATION_AWARD_CRITERIA)
        assert await conn.fetchval("SELECT announced FROM calls WHERE id = $1", call_id) is True
    finally:
        await conn.close()

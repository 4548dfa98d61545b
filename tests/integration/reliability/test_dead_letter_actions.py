"""Discarding a dead letter with a reason (POST /ops/dead-letters/{id}/discard), replaying them all
(POST /ops/dead-letters/replay-all), and the record of every action.

Against the probe service (tests/support/probe_service.py), real Kafka and PostgreSQL: a poison pill is dead-lettered
by its handler; replay and discard are then recorded in ``dead_letter_actions`` with who, when and the outcome.
"""

from __future__ import annotations

import uuid

from tests.support.harness import auth, eventually
from tests.support.kafka import produce, produce_event, submitted
from tests.support.probe_service import PROBE_TOPIC


async def test_a_dead_letter_is_discarded_with_a_reason_once_and_every_action_is_recorded(probe, infra_env) -> None:
    case_id = str(uuid.uuid4())
    await produce_event(infra_env["KIPINA_KAFKA_BOOTSTRAP"], submitted(case_id, "poison pill"), topic=PROBE_TOPIC)
    dead_id = await eventually(
        lambda: probe.pool.fetchval("SELECT id FROM dead_letters WHERE message_key = $1", case_id.encode()),
        what="the poison pill dead-lettered",
    )
    operator = auth("operator", user="ops-anna")
    url = f"/ops/dead-letters/{dead_id}"

    assert (await probe.client.post(f"{url}/replay", headers=operator)).status_code == 409
    for body in ({}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": "ok", "extra": 1}):
        refused = await probe.client.post(f"{url}/discard", json=body, headers=operator)
        assert refused.status_code == 422, (body, refused.text)
    assert (
        await probe.client.post(f"{url}/discard", json={"reason": "r"}, headers=auth("submitter"))
    ).status_code == 403
    assert (await probe.client.post(f"{url}/discard", json={"reason": "r"})).status_code == 401
    unknown = await probe.client.post(f"/ops/dead-letters/{2**63 - 1}/discard", json={"reason": "r"}, headers=operator)
    assert unknown.status_code == 404

    discarded = await probe.client.post(f"{url}/discard", json={"reason": "a test's poison"}, headers=operator)
    assert discarded.status_code == 200, discarded.text
    assert discarded.json() == {"id": dead_id, "discarded_by": "ops-anna", "reason": "a test's poison"}

    waiting = (await probe.client.get("/ops/dead-letters", params={"limit": 200}, headers=operator)).json()
    assert dead_id not in [d["id"] for d in waiting["items"]]
    everything = await probe.client.get(
        "/ops/dead-letters", params={"limit": 200, "include_replayed": True}, headers=operator
    )
    [mine] = [d for d in everything.json()["items"] if d["id"] == dead_id]
    assert mine["discarded_by"] == "ops-anna" and mine["discard_reason"] == "a test's poison"

    again = await probe.client.post(f"{url}/discard", json={"reason": "twice"}, headers=operator)
    assert again.status_code == 409 and "already discarded" in again.json()["message"]
    replay = await probe.client.post(f"{url}/replay", headers=operator)
    assert replay.status_code == 409 and "discarded" in replay.json()["message"]

    actions = await probe.pool.fetch(
        "SELECT action, actor, succeeded, reason FROM dead_letter_actions WHERE dead_letter_id = $1 ORDER BY id",
        dead_id,
    )
    assert [tuple(a) for a in actions] == [
        ("replay", "ops-anna", False, None),
        ("discard", "ops-anna", True, "a test's poison"),
    ]


async def test_replay_all_replays_every_waiting_dead_letter_in_id_order_bounded_and_recorded(probe, infra_env) -> None:
    """Three events whose handler failed until its antidote exists and one message that is not an event: replay all
    handles the three, records the fourth's failure and goes on; a bounded request says how many remain."""
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    cases = [str(uuid.uuid4()) for _ in range(3)]
    for n, case_id in enumerate(cases):
        await produce_event(bootstrap, submitted(case_id, f"poison {n}"), topic=PROBE_TOPIC)
    garbage = str(uuid.uuid4())
    await produce(bootstrap, PROBE_TOPIC, key=garbage.encode(), value=b"not an event")
    keys = [c.encode() for c in [*cases, garbage]]

    async def all_four() -> list[tuple[int, bytes]] | None:
        rows = await probe.pool.fetch(
            "SELECT id, message_key FROM dead_letters WHERE message_key = ANY($1::bytea[]) ORDER BY id", keys
        )
        return [(r["id"], bytes(r["message_key"])) for r in rows] if len(rows) == 4 else None

    letters = await eventually(all_four, what="four dead letters")
    ids = [i for i, _ in letters]
    fails = {i for i, key in letters if key == garbage.encode()}
    await probe.pool.execute("INSERT INTO probe_antidote VALUES (1)")  # what made the handler fail goes away
    operator = auth("operator", user="ops-anna")
    url = "/ops/dead-letters/replay-all"

    assert (await probe.client.post(url, headers=auth("submitter"))).status_code == 403
    assert (await probe.client.post(url)).status_code == 401
    for refused in ({"limit": 0}, {"limit": 501}, {"after": -1}):
        assert (await probe.client.post(url, params=refused, headers=operator)).status_code == 422, refused

    # At most two in this request, oldest first: two remain after the second.
    first = await probe.client.post(url, params={"limit": 2}, headers=operator)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [r["id"] for r in body["results"]] == ids[:2]
    assert body["last_id"] == ids[1] and body["remaining"] == 2 and body["skipped"] == 0
    assert (body["replayed"], body["failed"]) == (2 - len(fails & set(ids[:2])), len(fails & set(ids[:2])))

    # The next request continues after it, and a failure does not stop the rest.
    rest = (await probe.client.post(url, params={"after": body["last_id"]}, headers=operator)).json()
    assert [r["id"] for r in rest["results"]] == ids[2:]
    assert rest["remaining"] == 0 and rest["last_id"] == ids[3]
    results = body["results"] + rest["results"]
    assert body["replayed"] + rest["replayed"] == 3 and body["failed"] + rest["failed"] == 1
    for r in results:
        assert r["succeeded"] == (r["id"] not in fails)
        assert (r["outcome"] == "handled") if r["succeeded"] else r["outcome"].startswith("replay failed again: ")

    # Each replay is its own recorded action; the failed one waits still, the others were handled once.
    actions = await probe.pool.fetch(
        """
        SELECT id, dead_letter_id, actor, succeeded FROM dead_letter_actions WHERE dead_letter_id = ANY($1) ORDER BY id
        """,
        ids,
    )
    assert [(a["id"], a["dead_letter_id"], a["actor"], a["succeeded"]) for a in actions] == [
        (r["action_id"], r["id"], "ops-anna", r["id"] not in fails) for r in results
    ]
    waiting = (await probe.client.get("/ops/dead-letters", params={"limit": 200}, headers=operator)).json()
    assert [d["id"] for d in waiting["items"] if d["id"] in ids] == sorted(fails)
    for n, case_id in enumerate(cases):
        assert [e["title"] for e in await probe.effects(case_id)] == [f"poison {n}"]

    # Only the one that fails is left: replaying all again tries just it.
    again = (await probe.client.post(url, headers=operator)).json()
    assert [r["id"] for r in again["results"] if r["id"] in ids] == sorted(fails)


async def test_replay_all_is_in_the_openapi_for_operators(probe) -> None:
    operation = probe.app.openapi()["paths"]["/ops/dead-letters/replay-all"]["post"]
    assert operation["x-roles"] == ["operator"]
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    described = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert described.endswith("/ReplayAllView")

"""Discarding a dead letter with a reason (POST /ops/dead-letters/{id}/discard), and the record of every action.

Against the probe service (tests/support/probe_service.py), real Kafka and PostgreSQL: a poison pill is dead-lettered
by its handler; replay and discard are then recorded in ``dead_letter_actions`` with who, when and the outcome.
"""

from __future__ import annotations

import uuid

from tests.integration.reliability.test_protocol import submitted
from tests.support.harness import auth, eventually
from tests.support.kafka import produce_event
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

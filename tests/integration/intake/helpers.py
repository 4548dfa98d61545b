"""Helpers for intake's integration tests: request bodies, producing and reading real Kafka events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.events import CONTENT_TYPE, CloudEvent, EventPayload, new_event
from tests.support.harness import auth


async def produce(producer: AIOKafkaProducer, payload: EventPayload, *, case_id: uuid.UUID) -> CloudEvent:
    """Put a real CloudEvent on the payload's topic, keyed by the case id, as review/awards would."""
    event = new_event(payload, service="review", subject=str(case_id), correlation_id=str(uuid.uuid4()))
    await producer.send_and_wait(
        payload.topic,
        value=event.to_bytes(),
        key=str(case_id).encode(),
        headers=[("content-type", CONTENT_TYPE.encode())],
    )
    return event


async def read_events(bootstrap: str, topic: str, *, key: str, count: int, timeout_s: float = 30.0) -> list[Any]:
    """Read ``topic`` from the start and return the first ``count`` records keyed ``key`` (others are not ours)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"intake-test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    try:
        while len(found) < count and datetime.now(UTC) < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(r for r in records if r.key == key.encode())
    finally:
        await consumer.stop()
    assert len(found) >= count, f"expected {count} events keyed {key} on {topic}, found {len(found)}"
    return found[:count]


def envelope(record: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(record.value)
    return value


# --------------------------------------------------------------------------- request builders


OPERATOR = auth("operator", user="op-1", org="org-kipina")
ALICE = auth("submitter", user="alice", org="org-espoo", name="Alice Aalto", email="alice@example.org")
# Alice's colleague in the City of Espoo.
CARLA = auth("submitter", user="carla", org="org-espoo", name="Carla Castrén", email="carla@example.org")
BOB = auth("submitter", user="bob", org="org-vantaa", name="Bob Berg", email="bob@example.org")


def call_body(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "title": f"Quality Innovation Award {uuid.uuid4().hex[:6]}",
        "description": "The annual award for public-sector innovation.",
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
        "categories": ["public_sector", "education"],
        "languages": ["fi", "en"],
        "reviewers_per_iteration": 2,
    }
    body.update(overrides)
    return body


def case_body(call_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "call_id": call_id,
        "title": f"Smart library lending {uuid.uuid4().hex[:8]}",
        "summary": "Libraries lend tools and equipment through a self-service app.",
        "problem": "Residents buy tools they use once; libraries lack a way to lend them.",
        "solution": "A self-service lending app with smart lockers in every branch library.",
        "organisation": {"name": "City of Espoo", "business_id": "0101263-6"},
        "team": [{"name": "Eeva Esimerkki", "email": "eeva@example.org", "language": "fi", "role": "lead"}],
        "partners": [],
        "category": "public_sector",
        "language": "fi",
        "oecd_principles": [1, 3],
        "iso_stage": "validation",
        "drivers": ["customer needs"],
        "obstacles": ["money"],
    }
    body.update(overrides)
    return body


async def new_call(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/calls", json=call_body(**overrides), headers=OPERATOR)
    assert r.status_code == 201, r.text
    call: dict[str, Any] = r.json()
    return call


async def new_case(client: httpx.AsyncClient, call_id: str, headers: dict[str, str] = ALICE, **overrides: Any) -> Any:
    r = await client.post("/cases", json=case_body(call_id, **overrides), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()

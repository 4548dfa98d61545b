"""Notify integration fixtures: an SMTP sink, a webhook receiver, Kafka helpers, the running service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.notify.targets import Resolver
from shared import topics
from shared.events import CONTENT_TYPE, EventPayload, new_event
from tests.support import mail, webhooks
from tests.support.harness import running_app
from tests.support.infra import reset_database, unique_group
from tests.support.mail import SmtpSink
from tests.support.webhooks import WebhookReceiver


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with mail.smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """A minimal HTTP/1.1 server that records POSTs and answers 204."""
    async with webhooks.webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
async def producer(infra_env: dict[str, str]) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=infra_env["KIPINA_KAFKA_BOOTSTRAP"], enable_idempotence=True)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def produce(
    producer: AIOKafkaProducer,
    payload: EventPayload,
    *,
    case_id: uuid.UUID,
    event_id: uuid.UUID | None = None,
    traceparent: str | None = None,
) -> uuid.UUID:
    event = new_event(
        payload,
        service="test",
        subject=str(case_id),
        correlation_id=f"test-{uuid.uuid4()}",
        event_id=event_id,
        traceparent=traceparent,
    )
    await producer.send_and_wait(
        payload.topic,
        value=event.to_bytes(),
        key=str(case_id).encode(),
        headers=[("content-type", CONTENT_TYPE.encode())],
    )
    return event.id


class NotifyTopic:
    """Reads kipina.notify.v1 from 'latest' (started before acting) and keeps what it saw."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topics.NOTIFY,
            bootstrap_servers=bootstrap,
            group_id=f"notify-test-reader-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="latest",
        )
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        # Wait for the partition assignment so "latest" is fixed before the test acts.
        while not self._consumer.assignment():
            await asyncio.sleep(0.1)
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for record in self._consumer:
            self.events.append(json.loads(record.value or b"{}"))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def for_case(self, case_id: uuid.UUID, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("subject") == str(case_id) and e.get("type") == event_type]


@pytest.fixture(scope="module")
async def notify_topic(infra_env: dict[str, str]) -> AsyncIterator[NotifyTopic]:
    reader = NotifyTopic(infra_env["KIPINA_KAFKA_BOOTSTRAP"])
    await reader.start()
    try:
        yield reader
    finally:
        await reader.stop()


@contextlib.asynccontextmanager
async def notify_service(
    infra_env: dict[str, str], *, resolve: Resolver | None = None, **env: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh notify database and consumer group, with ``env`` (KIPINA_NOTIFY_* overrides) applied, and
    ``resolve`` finding webhook hosts' addresses when given (the system's resolver otherwise).

    The tests' webhook receivers run on 127.0.0.1, so loopback targets are allowed unless ``env`` says otherwise.
    """
    from services.notify.app import create

    await reset_database(infra_env["KIPINA_NOTIFY_DATABASE_URL"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIPINA_NOTIFY_CONSUMER_GROUP", unique_group("notify"))
        mp.setenv("KIPINA_NOTIFY_DELIVERY_POLL_S", "0.2")
        mp.setenv("KIPINA_LOG_LEVEL", "WARNING")
        mp.setenv("KIPINA_NOTIFY_WEBHOOK_ALLOW_LOOPBACK", "true")
        for key, value in env.items():
            mp.setenv(key, value)
        app = create() if resolve is None else create(resolve=resolve)
        async with running_app(app) as client:
            yield client

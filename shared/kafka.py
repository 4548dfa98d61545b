"""Kafka plumbing: the FastStream broker (consumers), the idempotent producer (outbox relay, dead letters).

Consumers never use FastStream's default ``ACK_FIRST`` (at-most-once): subscribers
are created with ``NACK_ON_ERROR``, so the offset is committed only after the
handler returned, i.e. after the database transaction committed. An exception that
escapes (the database is unreachable, the dead-letter topic cannot be written)
seeks back and the message is delivered again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from shared import registry, topics
from shared.events import CONTENT_TYPE

EVENT_HEADERS = [("content-type", CONTENT_TYPE.encode())]


def create_broker(bootstrap: str, *, service: str) -> KafkaBroker:
    return KafkaBroker(
        bootstrap,
        client_id=f"kipina-{service}",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        enable_idempotence=True,
        acks="all",
        allow_auto_create_topics=False,
        description=f"Kipinä {service} service events",
        # Through the root handler (structlog JSON); per-message lines at DEBUG, since the
        # consumer logs each handled event itself with its case and correlation ids.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


def consumer_group(service: str) -> str:
    return registry.consumer_group_of(service)


class EventProducer:
    """An idempotent producer (``acks=all``) with the one operation the relay needs: publish a batch."""

    def __init__(self, bootstrap: str, *, service: str, request_timeout_ms: int = 15_000) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=f"kipina-{service}-producer",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=request_timeout_ms,
        )
        self._started = False

    async def start(self) -> None:
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def publish_batch(self, messages: Sequence[tuple[str, bytes, bytes]]) -> None:
        """Send (topic, key, value) messages in order and wait until Kafka acknowledged all of them."""
        futures = [
            await self._producer.send(topic, value=value, key=key, headers=EVENT_HEADERS)
            for topic, key, value in messages
        ]
        await asyncio.gather(*futures)

    async def send(self, topic: str, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)


async def ensure_topics(bootstrap: str, *, partitions: int = 6, names: Sequence[str] = topics.ALL_TOPICS) -> list[str]:
    """Create any missing topic; returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in missing]
            )
        return missing
    finally:
        await admin.close()

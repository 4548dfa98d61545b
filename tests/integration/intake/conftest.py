"""Intake running in-process against the real Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from tests.support.harness import running_app
from tests.support.infra import reset_database, unique_group


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    await reset_database(infra_env["KIPINA_INTAKE_DATABASE_URL"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIPINA_INTAKE_CONSUMER_GROUP", unique_group("intake"))
        mp.setenv("KIPINA_INTAKE_HANDLER_BACKOFF_BASE_S", "0.05")
        mp.setenv("KIPINA_INTAKE_RELAY_POLL_INTERVAL_S", "0.2")
        # One submitter files dozens of cases a minute here, valid and not: the limits are tested on their own
        # (test_throttling.py), so they do not stand between these tests and the rules they check.
        mp.setenv("KIPINA_INTAKE_SUBMISSIONS_PER_SUBMITTER_PER_MINUTE", "0")
        mp.setenv("KIPINA_INTAKE_SUBMISSIONS_PER_ADDRESS_PER_MINUTE", "0")
        from services.intake.app import create

        app = create()
        async with running_app(app) as http:
            yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def db(infra_env: dict[str, str], client: httpx.AsyncClient) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(infra_env["KIPINA_INTAKE_DATABASE_URL"])
    yield conn
    await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def producer(infra_env: dict[str, str]) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=infra_env["KIPINA_KAFKA_BOOTSTRAP"], acks="all")
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def bootstrap(infra_env: dict[str, str]) -> str:
    return infra_env["KIPINA_KAFKA_BOOTSTRAP"]

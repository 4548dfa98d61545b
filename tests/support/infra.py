"""The real infrastructure for tests: Kafka and PostgreSQL.

Order of preference: what the environment names (KIPINA_KAFKA_BOOTSTRAP and the
per-service database URLs, e.g. a real cluster or CI services); else the local
processes managed by ``deploy/local.py`` (started if not running). With a Docker
engine and KIPINA_TEST_CONTAINERS=1, testcontainers' Kafka and PostgreSQL are used.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import asyncpg

SERVICES = ("intake", "review", "awards", "notify")


def database_env_name(service: str) -> str:
    return f"KIPINA_{service.upper()}_DATABASE_URL"


def _from_environment() -> dict[str, str] | None:
    names = ["KIPINA_KAFKA_BOOTSTRAP", *(database_env_name(s) for s in SERVICES)]
    if all(os.environ.get(n) for n in names):
        return {n: os.environ[n] for n in names}
    return None


def _from_testcontainers() -> dict[str, str]:  # pragma: no cover - needs a Docker engine
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft()
    kafka.start()
    pg = PostgresContainer("postgres:16", username="postgres", password="postgres", dbname="postgres")
    pg.start()
    base = pg.get_connection_url(driver=None).rsplit("/", 1)[0]
    env = {"KIPINA_KAFKA_BOOTSTRAP": kafka.get_bootstrap_server()}
    import asyncio

    async def create() -> None:
        conn = await asyncpg.connect(f"{base}/postgres")
        for s in SERVICES:
            await conn.execute(f"CREATE DATABASE {s}")
        await conn.close()

    asyncio.run(create())
    for s in SERVICES:
        env[database_env_name(s)] = f"{base}/{s}"
    return env


def ensure_infra() -> dict[str, str]:
    """Return the environment naming Kafka and the four databases, starting local processes if needed."""
    env = _from_environment()
    if env is not None:
        return env
    if os.environ.get("KIPINA_TEST_CONTAINERS") == "1":
        return _from_testcontainers()
    from deploy import local

    started: dict[str, Any] = local.ensure_infra()
    return {k: str(v) for k, v in started.items()}


async def reset_database(url: str) -> None:
    """Drop everything in the service database (the service's role owns its public schema)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def unique_group(service: str) -> str:
    return f"kipina-{service}-test-{uuid.uuid4().hex[:8]}"

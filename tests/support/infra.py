"""The real infrastructure for tests: Kafka and PostgreSQL.

Order of preference: what the environment names (KIPINA_KAFKA_BOOTSTRAP and the
per-service database URLs, e.g. a real cluster or CI services); else local
processes managed by ``deploy/local.py`` (started if not running) that are the
tests' own: state in ``.kipina/test``, Kafka on 19192, PostgreSQL on 15532, so a
stack started with ``make up`` never consumes the tests' events nor they its data. When a Docker
engine answers, testcontainers' Kafka and PostgreSQL are used instead
(KIPINA_TEST_CONTAINERS=0 turns that off, =1 insists on it).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from shared import registry

SERVICES: tuple[str, ...] = registry.SERVICE_NAMES

REPO = Path(__file__).resolve().parents[2]
TEST_INFRA_DEFAULTS = {
    "KIPINA_STATE_DIR": str(REPO / ".kipina" / "test"),
    "KIPINA_KAFKA_PORT": "19192",
    "KIPINA_KAFKA_CONTROLLER_PORT": "19193",
    "KIPINA_PG_PORT": "15532",
}


def use_test_infrastructure() -> None:
    """Point deploy/local.py at the tests' own servers, unless the environment names infrastructure."""
    if _from_environment() is None:
        for name, value in TEST_INFRA_DEFAULTS.items():
            os.environ.setdefault(name, value)


def database_env_name(service: str) -> str:
    """``KIPINA_<SVC>_DATABASE_URL`` of a registry service (``KeyError`` for any other name)."""
    return registry.part(service).database_env


def _from_environment() -> dict[str, str] | None:
    names = ["KIPINA_KAFKA_BOOTSTRAP", *(database_env_name(s) for s in SERVICES)]
    if all(os.environ.get(n) for n in names):
        env = {n: os.environ[n] for n in names}
        if os.environ.get("KIPINA_PG_ADMIN_URL"):
            env["KIPINA_PG_ADMIN_URL"] = os.environ["KIPINA_PG_ADMIN_URL"]
        return env
    return None


def _from_testcontainers() -> dict[str, str]:  # pragma: no cover - needs a Docker engine
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft()
    kafka.start()
    pg = PostgresContainer("postgres:16", username="postgres", password="postgres", dbname="postgres")
    pg.start()
    base = pg.get_connection_url(driver=None).rsplit("/", 1)[0]
    env = {"KIPINA_KAFKA_BOOTSTRAP": kafka.get_bootstrap_server(), "KIPINA_PG_ADMIN_URL": f"{base}/postgres"}
    import asyncio

    async def create() -> None:
        # The docker-compose init script: a login and a database per service, each login only at its own door.
        conn = await asyncpg.connect(f"{base}/postgres")
        for statement in registry.postgres_init_sql().splitlines():
            if statement and not statement.startswith("--"):
                await conn.execute(statement)  # one at a time: CREATE DATABASE refuses a transaction block
        await conn.close()

    asyncio.run(create())
    host = base.split("@", 1)[1]
    for p in registry.PARTS:
        env[p.database_env] = f"postgresql://{p.name}:{p.dev_password}@{host}/{p.database}"
    return env


def _docker_engine_answers() -> bool:
    """True when a Docker engine is reachable (a client alone, as on machines without one, is not enough)."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def ensure_infra() -> dict[str, str]:
    """Return the environment naming Kafka and every service's database, starting local processes if needed."""
    env = _from_environment()
    if env is not None:
        return env
    choice = os.environ.get("KIPINA_TEST_CONTAINERS", "auto")
    if choice == "1" or (choice == "auto" and _docker_engine_answers()):
        return _from_testcontainers()
    from deploy import local

    use_test_infrastructure()
    started: dict[str, Any] = local.ensure_infra()
    return {k: str(v) for k, v in started.items()}


async def reset_database(url: str) -> None:
    """Drop everything in the service database (the service's role owns its public schema)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@asynccontextmanager
async def migrated_pool(url: str, migrations: Path) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the database ``url``, emptied and migrated (the shared migrations, then ``migrations``)."""
    from shared.db import apply_migrations, create_pool

    await reset_database(url)
    await apply_migrations(url, migrations)
    pool = await create_pool(url)
    try:
        yield pool
    finally:
        await pool.close()


def unique_group(service: str, topics: list[str] | None = None) -> str:
    """A fresh consumer group name, pinned to the current end of the event topics.

    Pinning means a test's service sees only what is produced from now on, not the
    whole history of a broker that other tests (and earlier runs) share.
    """
    import asyncio
    import threading

    from shared import topics as kipina_topics
    from tests.support.kafka import pin_group_to_end

    group = f"kipina-{service}-test-{uuid.uuid4().hex[:8]}"
    bootstrap = os.environ.get("KIPINA_KAFKA_BOOTSTRAP")
    if bootstrap:
        names = topics or [*kipina_topics.EVENT_TOPICS, "kipina.test.probe.v1"]
        errors: list[BaseException] = []

        def pin() -> None:  # tests call this from inside a running event loop
            try:
                asyncio.run(pin_group_to_end(bootstrap, group, names))
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=pin)
        worker.start()
        worker.join()
        if errors:
            raise errors[0]
    return group


async def create_database(env: dict[str, str], name: str) -> str:
    """Create (or empty) a test-only database through the admin URL; returns its URL."""
    admin_url = env.get("KIPINA_PG_ADMIN_URL") or os.environ.get("KIPINA_PG_ADMIN_URL")
    if not admin_url:
        raise RuntimeError("KIPINA_PG_ADMIN_URL is needed to create the test database " + name)
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    await reset_database(url)
    return url


async def own_database(env: dict[str, str], service: str, name: str) -> str:
    """A database ``name`` owned by the service's role, so tests never touch a running dev stack's data.

    It is locked down as deploy/local.py locks the real ones: only its owner (and superusers) may connect, so the
    tests run with the same isolation between the services' logins (tests/integration/test_database_isolation.py).
    Without an admin URL (an external cluster), the service's own database is used.
    """
    url = env[database_env_name(service)]
    admin = env.get("KIPINA_PG_ADMIN_URL")
    if not admin:
        return url
    role = url.split("://", 1)[1].split(":", 1)[0]
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}" OWNER "{role}"')
        await conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + f"/{name}"


if __name__ == "__main__":
    # `python -m tests.support.infra status|down|reset|...`: deploy/local.py's commands on the tests' servers.
    from deploy import local

    use_test_infrastructure()
    raise SystemExit(local.main(sys.argv[1:]))

"""Session fixtures: the real Kafka broker and PostgreSQL for integration, e2e and fault tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.support.infra import SERVICES, database_env_name, ensure_infra, own_database


@pytest.fixture(scope="session")
async def infra_env() -> AsyncIterator[dict[str, str]]:
    """Environment variables naming Kafka and every service's database (started if needed).

    Each service's database is a ``test_<service>`` database owned by the service's role,
    so running the tests never touches the data of a stack started with ``make up``.
    """
    env = ensure_infra()
    for service in SERVICES:
        env[database_env_name(service)] = await own_database(env, service, f"test_{service}")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
async def probe_db_url(infra_env: dict[str, str]) -> str:
    """A database of its own for the probe service (tests of the reliability protocol)."""
    from tests.support.infra import create_database

    return await create_database(infra_env, "probe")

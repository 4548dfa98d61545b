"""Session fixtures: the real Kafka broker and PostgreSQL for integration, e2e and fault tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.infra import ensure_infra


@pytest.fixture(scope="session")
def infra_env() -> Iterator[dict[str, str]]:
    """Environment variables naming Kafka and the four service databases (started if needed)."""
    env = ensure_infra()
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

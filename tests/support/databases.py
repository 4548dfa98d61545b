"""A service's database, migrated and empty, for tests of its repository's queries (no service running)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from shared.db import apply_migrations, create_pool
from tests.support.infra import own_database, reset_database

SERVICES = Path(__file__).resolve().parents[2] / "services"


def migrations_of(service: str) -> Path:
    return SERVICES / service / "migrations"


@asynccontextmanager
async def migrated_pool(env: dict[str, str], service: str, name: str) -> AsyncIterator[asyncpg.Pool]:
    """Database ``name`` owned by the service's role, emptied, with the shared and the service's migrations applied;
    a pool on it (with the services' JSON codecs) until the block ends."""
    url = await own_database(env, service, name)
    await reset_database(url)
    await apply_migrations(url, migrations_of(service))
    pool = await create_pool(url)
    try:
        yield pool
    finally:
        await pool.close()

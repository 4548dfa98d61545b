"""Migrations run in a child process (shared/db.py apply_migrations): the ids applied come back, a second run
applies nothing, and a failing migration stops the start with PostgreSQL's own words."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from shared.db import MigrationFailed, apply_migrations
from tests.support.infra import create_database, reset_database

pytestmark = pytest.mark.integration


async def test_applied_once_then_nothing(infra_env: dict[str, str], tmp_path: Path) -> None:
    url = await create_database(infra_env, "migrations_child")
    await reset_database(url)
    (tmp_path / "0001.things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);\n")

    first = await apply_migrations(url, tmp_path)
    again = await apply_migrations(url, tmp_path)

    assert "0001.things" in first and "0001.reliability" in first
    assert again == []
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM things") == 0
    finally:
        await conn.close()


async def test_a_failing_migration_says_why(infra_env: dict[str, str], tmp_path: Path) -> None:
    url = await create_database(infra_env, "migrations_child_bad")
    await reset_database(url)
    (tmp_path / "0001.broken.sql").write_text("CREATE TABLE broken (id int PRIMARY KEY, id int);\n")

    with pytest.raises(MigrationFailed, match='column "id" specified more than once'):
        await apply_migrations(url, tmp_path)

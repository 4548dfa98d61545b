"""Each service's database login reaches its own database only (the real PostgreSQL).

deploy/local.py gives every service a login role that owns one database and revokes CONNECT (and TEMPORARY) on it
from PUBLIC; the tests' ``test_<service>`` databases are locked the same way (tests/support/infra.py
``own_database``). Here every login tries every other service's database, the real one and the tests' own, and must
be refused at the door; and, in case a deployment grants CONNECT more widely, no login holds any privilege on another
service's tables either. None of the logins is a superuser or may create roles or databases.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from shared import registry
from shared.db import apply_migrations
from tests.support.infra import REPO
from tests.support.reliability import Reliability

pytestmark = pytest.mark.integration

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _login(url: str) -> str:
    user = urlsplit(url).username
    assert user, url
    return user


async def test_no_login_reaches_another_services_database(infra_env: dict[str, str], reliability: Reliability) -> None:
    admin = infra_env.get("KIPINA_PG_ADMIN_URL")
    if not admin:
        pytest.skip("needs the admin URL of a PostgreSQL whose roles deploy/local.py provisioned")
    row = reliability.row("Access control and secrets", "a service's database login cannot reach another's database")
    # The databases: each service's real one (deploy/local.py) and its tests' own (``test_<service>``).
    databases = {p.name: [p.database, urlsplit(infra_env[p.database_env]).path.lstrip("/")] for p in registry.PARTS}
    logins = {p.name: infra_env[p.database_env] for p in registry.PARTS}
    let_in: list[str] = []
    for service, url in logins.items():
        for other, names in databases.items():
            if other == service:
                continue
            for database in names:
                row.fuzz_cases += 1
                try:
                    conn = await asyncpg.connect(_with_database(url, database), timeout=10)
                except asyncpg.InsufficientPrivilegeError:
                    continue
                await conn.close()
                let_in.append(f"{service}'s login into {database}")
    # The tests' databases hold every service's tables (migrated here, as each service does at start-up).
    privileged: list[str] = []
    superusers: list[str] = []
    conn = await asyncpg.connect(admin)
    try:
        for p in registry.PARTS:
            roles = await conn.fetchrow(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = $1",
                _login(logins[p.name]),
            )
            assert roles is not None, f"no login role for {p.name}"
            if any(roles.values()):
                superusers.append(f"{p.name}: {dict(roles)}")
    finally:
        await conn.close()
    for p in registry.PARTS:
        await apply_migrations(infra_env[p.database_env], REPO / "services" / p.name / "migrations")
        on_database = await asyncpg.connect(_with_database(admin, databases[p.name][1]))
        try:
            tables = await on_database.fetch(
                "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = 'public'"
            )
            assert tables, f"{p.name}'s test database has no tables to guard"
            for stranger in registry.PARTS:
                if stranger == p:
                    continue
                login = _login(logins[stranger.name])
                for table in tables:
                    for privilege in TABLE_PRIVILEGES:
                        row.fuzz_cases += 1
                        if await on_database.fetchval(
                            "SELECT has_table_privilege($1, $2, $3)", login, table["name"], privilege
                        ):
                            privileged.append(f"{login} may {privilege} {p.name}'s {table['name']}")
        finally:
            await on_database.close()
    row.notes = f"{len(logins)} logins × {len(logins) - 1} other services' databases (real and tests')"
    assert not let_in, let_in
    assert not privileged, privileged
    assert not superusers, superusers

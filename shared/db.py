"""PostgreSQL access: the asyncpg pool and the migrations runner.

Migrations are plain SQL files applied by yoyo-migrations (which keeps its own
lock and log tables). Every service database gets ``shared/migrations`` (the
inbox, outbox and dead-letter tables) followed by the service's own folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"

# A connection, whether opened directly or borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy

# The database is away or refused us: a background job retries its round rather than dying.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

# Narrower: the database is away (stopped, restarting, the connection cut), not a statement it refused. What
# failed did nothing and may be done again once it answers; a broken rule or a bug is none of these.
DATABASE_AWAY: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, timed out
    asyncpg.InterfaceError,  # the connection was closed under us
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, "the database system is starting up"
    # A connection left mid-operation when the server died under it ("another operation is in progress").
    asyncpg.exceptions.InternalClientError,
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PooledConnection(asyncpg.Connection):
    """A pool's connection, given back without asyncpg's session reset query (``pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL``): a round trip on every release, for session state Kipinä never makes on a
    pooled connection (its advisory locks are transaction-scoped, it listens on a connection of its own, it sets
    nothing for the session, it opens no cursors). An open transaction is still rolled back on release."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, connection_class=PooledConnection
    )
    assert pool is not None
    return pool


def _yoyo_url(dsn: str) -> str:
    scheme, rest = dsn.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return dsn


def apply_migrations_sync(dsn: str, service_migrations: Path) -> list[str]:
    """Apply pending migrations; returns the ids applied. Safe to run from several instances at once."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(_yoyo_url(dsn))
    migrations = read_migrations(str(SHARED_MIGRATIONS), str(service_migrations))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    backend.connection.close()
    return applied


class MigrationFailed(RuntimeError):
    pass


_DSN_VARIABLE = "KIPINA_MIGRATE_DATABASE_URL"  # not in argv, where any user's ps would show its password


async def apply_migrations(dsn: str, service_migrations: Path) -> list[str]:
    """Apply pending migrations in a child process; returns the ids applied.

    yoyo reaches PostgreSQL through psycopg and libpq: loaded into the service, they stayed resident for its whole
    life (about 11 MiB of a service's 104 at idle) for work done once at start-up.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.db",
        str(service_migrations),
        env={**os.environ, _DSN_VARIABLE: dsn},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    if child.returncode != 0:
        tail = err.decode(errors="replace")[-2000:]
        raise MigrationFailed(f"migrations of {service_migrations} failed (exit {child.returncode}):\n{tail}")
    applied: list[str] = json.loads(out)
    return applied


if __name__ == "__main__":
    print(json.dumps(apply_migrations_sync(os.environ[_DSN_VARIABLE], Path(sys.argv[1]))))

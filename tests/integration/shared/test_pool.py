"""The services' pool on the real PostgreSQL: a connection goes back without the session reset query, yet
never with a transaction left open in it."""

from __future__ import annotations

import pytest

from shared.db import PooledConnection, create_pool

pytestmark = pytest.mark.integration


async def test_a_connection_comes_back_without_an_open_transaction_and_without_the_reset_query(
    probe_db_url: str,
) -> None:
    pool = await create_pool(probe_db_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert conn.get_reset_query() == ""
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (id int)")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:  # the only connection again
            assert isinstance(conn._con, PooledConnection)
            assert not conn.is_in_transaction()
            # The transaction that made the table was rolled back, not committed.
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
    finally:
        await pool.close()

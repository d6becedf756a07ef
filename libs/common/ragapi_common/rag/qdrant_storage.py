"""LightRAG's vector storage contract on Qdrant, through :mod:`.qdrant` (async end to end).

LightRAG's own ``QdrantVectorDBStorage`` calls the synchronous client from its
async methods (every search blocks the event loop for a network round trip);
this one awaits ``AsyncQdrantClient`` (docs/decisions/0601).

It follows LightRAG 1.5.7's deferred-embedding protocol so the rest of ragapi
treats it like the other stores: ``upsert`` and ``delete`` only buffer;
``index_done_callback`` embeds what has no vector yet and writes in batches.
The buffer is ``_pending_vector_docs`` of records with ``.item`` and
``.vector``, the shape :mod:`.embed_ahead` embeds ahead of the commit. Reads by
id see the buffer (read-your-writes); ``query`` sees only what was written, as
in LightRAG's stores.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, final

import numpy as np

from . import qdrant
from ._lightrag import BaseVectorStorage, compute_mdhash_id, register_vector_storage

#: The class name LightRAG's ``vector_storage`` setting takes.
NAME = "RagapiQdrantStorage"
#: Relations are deleted by their endpoints' names: indexed like the tenant.
_KEYWORDS = {"relationships": ("src_id", "tgt_id")}


@dataclass
class _Pending:
    """A buffered upsert: ``item`` is the payload, ``vector`` set once embedded."""

    item: dict[str, Any]
    vector: Any = None


@final
@dataclass
class RagapiQdrantStorage(BaseVectorStorage):  # type: ignore[misc]
    def __post_init__(self) -> None:
        self._validate_embedding_func()
        kwargs = self.global_config.get("vector_db_storage_cls_kwargs", {})
        self.cosine_better_than_threshold = float(kwargs["cosine_better_than_threshold"])
        self._max_batch_size = int(self.global_config["embedding_batch_num"])
        self._collection = qdrant.collection(self.namespace, self.embedding_func.embedding_dim)
        self._pending_vector_docs: dict[str, _Pending] = {}
        self._pending_deletes: set[str] = set()
        self._flush_lock = asyncio.Lock()

    async def initialize(self) -> None:
        await qdrant.ensure_collection(
            self._collection,
            self.embedding_func.embedding_dim,
            _KEYWORDS.get(self.namespace, ()),
        )

    def _point(self, key: str) -> str:
        return qdrant.point_id(self.workspace, key)

    # Writes: buffered until the commit.

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        now = int(time.time())
        for key, value in data.items():
            item = {k: v for k, v in value.items() if k in self.meta_fields}
            item |= {"id": key, "created_at": now, "content": value["content"]}
            self._pending_deletes.discard(key)
            self._pending_vector_docs[key] = _Pending(item)

    async def delete(self, ids: list[str]) -> None:
        for key in ids:
            self._pending_vector_docs.pop(key, None)
            self._pending_deletes.add(key)

    async def delete_entity(self, entity_name: str) -> None:
        await self.delete([compute_mdhash_id(entity_name, prefix="ent-")])

    async def delete_entity_relation(self, entity_name: str) -> None:
        """Every relation of ``entity_name`` (either end), written or buffered."""
        async with self._flush_lock:
            ends = {"src_id": entity_name, "tgt_id": entity_name}
            await qdrant.delete_matching(self._collection, self.workspace, ends)
            for key, pending in list(self._pending_vector_docs.items()):
                if entity_name in (pending.item.get("src_id"), pending.item.get("tgt_id")):
                    del self._pending_vector_docs[key]

    async def index_done_callback(self) -> None:
        """Embed what is buffered without a vector, then write and delete in batches."""
        async with self._flush_lock:
            await self._embed([p for p in self._pending_vector_docs.values() if p.vector is None])
            written = dict(self._pending_vector_docs)
            deleted = set(self._pending_deletes)
            points = [
                qdrant.Point(
                    self._point(key), _floats(p.vector), {qdrant.TENANT: self.workspace, **p.item}
                )
                for key, p in written.items()
            ]
            await qdrant.upsert(self._collection, points)
            await qdrant.delete_ids(self._collection, [self._point(key) for key in deleted])
            for key, pending in written.items():
                if self._pending_vector_docs.get(key) is pending:
                    del self._pending_vector_docs[key]
            self._pending_deletes -= deleted

    async def _embed(self, todo: list[_Pending]) -> None:
        size = self._max_batch_size
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        results = await asyncio.gather(
            *(
                self.embedding_func([p.item["content"] for p in b], context="document")
                for b in batches
            )
        )
        for batch, vectors in zip(batches, results, strict=True):
            for pending, vector in zip(batch, vectors, strict=True):
                pending.vector = vector

    async def drop_pending_index_ops(self) -> None:
        self._pending_vector_docs.clear()
        self._pending_deletes.clear()

    # Reads.

    async def query(
        self, query: str, top_k: int, query_embedding: list[float] | None = None
    ) -> list[dict[str, Any]]:
        if top_k < 1:
            return []
        if query_embedding is None:
            embedded = await self.embedding_func([query], context="query")
            query_embedding = _floats(embedded[0])
        hits = await qdrant.search(
            self._collection, self.workspace, _floats(query_embedding), top_k,
            self.cosine_better_than_threshold,
        )  # fmt: skip
        return [{**_record(hit.payload), "distance": hit.score} for hit in hits]

    async def get_by_id(self, id: str) -> dict[str, Any] | None:
        found = await self.get_by_ids([id])
        return found[0] if found else None

    async def get_by_ids(self, ids: list[str]) -> list[dict[str, Any] | None]:
        """One entry per id, ``None`` where there is none (LightRAG's stores zip them)."""
        stored = await self._stored(ids, vectors=False)
        return [stored[key][0] if key in stored else None for key in ids]

    async def get_vectors_by_ids(self, ids: list[str]) -> dict[str, list[float]]:
        todo = [self._pending_vector_docs[k] for k in ids if k in self._pending_vector_docs]
        await self._embed([p for p in todo if p.vector is None])
        stored = await self._stored(ids, vectors=True)
        return {key: vector for key, (_, vector) in stored.items() if vector is not None}

    async def _stored(
        self, ids: list[str], *, vectors: bool
    ) -> dict[str, tuple[dict[str, Any], list[float] | None]]:
        """(record, vector) per id found, in ``ids`` order; the buffer wins over Qdrant."""
        found: dict[str, tuple[dict[str, Any], list[float] | None]] = {}
        remote = [
            k for k in ids if k not in self._pending_vector_docs and k not in self._pending_deletes
        ]
        hits = await qdrant.fetch(
            self._collection, self.workspace, [self._point(k) for k in remote], vectors
        )
        by_key = {str(hit.payload.get("id")): hit for hit in hits}
        for key in ids:
            pending = self._pending_vector_docs.get(key)
            if pending is not None:
                vector = None if pending.vector is None else _floats(pending.vector)
                found[key] = (dict(pending.item), vector)
            elif key in by_key:
                found[key] = (_record(by_key[key].payload), by_key[key].vector)
        return found

    # Lifecycle.

    async def drop(self) -> dict[str, str]:
        """Remove this tenant's points of this namespace (every tenant's others stay)."""
        async with self._flush_lock:
            self._pending_vector_docs.clear()
            self._pending_deletes.clear()
            await qdrant.delete_tenant(self.workspace, self._collection)
        return {"status": "success", "message": "data dropped"}

    async def finalize(self) -> None:
        """Write what is still buffered (the process's client stays open for the others)."""
        if self._pending_vector_docs or self._pending_deletes:
            await self.index_done_callback()


def _floats(vector: Any) -> list[float]:
    return [float(x) for x in np.asarray(vector, dtype=np.float32).tolist()]


def _record(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != qdrant.TENANT}


register_vector_storage(NAME, __name__)

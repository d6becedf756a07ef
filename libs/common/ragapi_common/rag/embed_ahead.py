"""A vector store's pending upserts embedded before its commit, outside its lock.

LightRAG's vector stores buffer upserts and embed them all at the commit
(``index_done_callback``) inside the lock their readers take too
(NanoVectorDB's ``_storage_lock``, PostgreSQL's ``_flush_lock``), and submit
every batch at once: a large document's commit held the lock of the chunk
vectors for 21 s while its queries waited (issue 9), and its thousands of
batches filled the embedding queue (1,000 places, FIFO for whoever waits to
enter it) ahead of the queries' own embeddings.

:func:`install` wraps the commit: the pending records without a vector are
embedded first, outside the lock, a few batches at a time, below every other
call's priority, and each vector is set on its pending record. That is
LightRAG's own protocol: its ``get_vectors_by_ids`` caches a lazily computed
vector there, and the flush reuses it instead of embedding again. The commit
then only writes. A record replaced meanwhile by a new upsert of its id is a
new object without a vector; the vector computed for the old one stays on the
old one and the next pass (or the commit) embeds the new content.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import Any

import numpy as np

from ._lightrag import DEFAULT_PROCESSING_PRIORITY

#: Behind extraction, lazy query-time embeddings and queries (lower runs first).
BULK_PRIORITY = DEFAULT_PROCESSING_PRIORITY + 5
#: Batches of one storage in flight at once when the config does not say.
DEFAULT_IN_FLIGHT = 4
#: Passes over what other documents upsert meanwhile before the commit takes the rest.
PASSES = 3


def _pending(storage: Any) -> list[tuple[Any, str]]:
    """(record, its text) of every buffered upsert without a vector (Nano or PostgreSQL)."""
    buffered = getattr(storage, "_pending_upserts", None)  # NanoVectorDB: .record
    if buffered is not None:
        return [(p, p.record["content"]) for p in buffered.values() if p.vector is None]
    buffered = getattr(storage, "_pending_vector_docs", None)  # PostgreSQL: .item
    if buffered is not None:
        return [(p, p.item["content"]) for p in buffered.values() if p.vector is None]
    return []


async def embed_pending(storage: Any, priority: int = BULK_PRIORITY, passes: int = PASSES) -> int:
    """Set a vector on each pending record lacking one; how many were embedded.

    Each pass takes what the previous one found upserted meanwhile (by the
    documents indexed alongside); what arrives after the last is embedded by
    the commit itself.
    """
    size = int(storage._max_batch_size)
    in_flight = asyncio.Semaphore(
        int(storage.global_config.get("embedding_func_max_async") or DEFAULT_IN_FLIGHT)
    )

    async def embed(batch: Sequence[tuple[Any, str]]) -> None:
        async with in_flight:
            texts = [text for _, text in batch]
            vectors = await storage.embedding_func(texts, context="document", _priority=priority)
        for (record, _), vector in zip(batch, vectors, strict=True):
            if record.vector is None:
                record.vector = np.asarray(vector)

    done = 0
    for _ in range(passes):
        todo = _pending(storage)
        if not todo:
            break
        await asyncio.gather(*(embed(todo[i : i + size]) for i in range(0, len(todo), size)))
        done += len(todo)
    return done


def _ahead(commit: Callable[[], Awaitable[Any]], storage: Any) -> Callable[[], Awaitable[Any]]:
    @wraps(commit)
    async def commit_after_embedding() -> Any:
        await embed_pending(storage)
        return await commit()

    return commit_after_embedding


def _stragglers_first(flush: Callable[[], Awaitable[None]], storage: Any) -> Callable[[], Any]:
    """NanoVectorDB's locked flush, with what arrived after the pre-pass embedded first.

    Its flush applies queued deletes, then awaits the embedding, then upserts:
    embedding first leaves no await between the deletes and the upserts, so a
    reader that does not take the lock (:mod:`.readers`) never sees the one
    without the other.
    """

    @wraps(flush)
    async def flush_locked() -> None:
        # Under the lock no upsert can add more: one pass takes everything.
        await embed_pending(storage, DEFAULT_PROCESSING_PRIORITY, passes=1)
        await flush()

    return flush_locked


def install(storage: Any) -> None:
    """Embed ``storage``'s pending upserts ahead of its commits (instance attributes)."""
    if not hasattr(storage, "_pending_upserts") and not hasattr(storage, "_pending_vector_docs"):
        return  # a store that embeds at upsert time has nothing pending
    storage.index_done_callback = _ahead(storage.index_done_callback, storage)
    if hasattr(storage, "_flush_pending_locked"):
        storage._flush_pending_locked = _stragglers_first(storage._flush_pending_locked, storage)

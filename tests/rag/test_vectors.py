"""Chunk vectors for query-time chunk picking: arrays, fetched once, bounded."""

from __future__ import annotations

from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from ragapi_common.rag.vectors import (
    LIGHTRAG_COSINE,
    VectorCache,
    cosine_similarity,
    install,
    normed,
)


class Store:
    """A vector store answering as LightRAG's local store does: lists of floats."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    async def get_vectors_by_ids(self, ids: list[str]) -> dict[str, Any]:
        self.asked.append(list(ids))
        return {i: [float(len(i)), 1.0, 0.5] for i in ids if not i.startswith("gone")}


async def test_vectors_come_back_as_float32_arrays_and_are_fetched_once() -> None:
    store = Store()
    cache = VectorCache(store.get_vectors_by_ids, size=8)

    first = await cache(["chunk-a", "chunk-bb"])
    assert {k: v.tolist() for k, v in first.items()} == {
        "chunk-a": [7.0, 1.0, 0.5],
        "chunk-bb": [8.0, 1.0, 0.5],
    }
    assert all(v.dtype == np.float32 for v in first.values())

    second = await cache(["chunk-bb", "chunk-ccc", "gone-1"])
    assert store.asked == [["chunk-a", "chunk-bb"], ["chunk-ccc", "gone-1"]]
    assert set(second) == {"chunk-bb", "chunk-ccc"}, "a missing vector stays missing"


async def test_the_least_recently_used_vectors_are_dropped_past_the_bound() -> None:
    store = Store()
    cache = VectorCache(store.get_vectors_by_ids, size=2)
    await cache(["c1", "c2"])
    await cache(["c1"])  # c1 is now the most recent
    await cache(["c3"])  # evicts c2
    store.asked.clear()
    await cache(["c1", "c2", "c3"])
    assert store.asked == [["c2"]]


def test_cosines_from_kept_norms_equal_lightrags() -> None:
    rng = np.random.default_rng(5)
    query = np.stack([rng.standard_normal(384, dtype=np.float32) for _ in range(2)])[0]
    for _ in range(200):
        values = rng.standard_normal(384).astype(np.float32).tolist()
        kept = normed(values)
        plain = np.asarray(values, dtype=np.float32)
        assert cosine_similarity(query, kept) == LIGHTRAG_COSINE(query, plain)
    zero = normed([0.0] * 384)
    assert cosine_similarity(query, zero) == LIGHTRAG_COSINE(query, np.zeros(384)) == 0.0


def test_installing_keeps_blas_on_one_thread() -> None:
    install(Store())
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas
    assert all(pool["num_threads"] == 1 for pool in blas)

"""Chunk vectors for query-time chunk picking: arrays, fetched once, bounded."""

from __future__ import annotations

from typing import Any

import numpy as np

from ragapi_common.rag.vectors import VectorCache


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

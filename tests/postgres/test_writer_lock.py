"""The tenant's cross-replica writer lock: let go between groups of inserts, no reader waits."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from ragapi_common.rag.api import Question
from ragapi_common.rag.build import Models
from ragapi_common.rag.locks import RedisIndexLock
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.slowness import slowness

LLM_LATENCY_S = 0.3
BATCH = 6


async def test_a_long_batch_lets_another_replica_write_between_its_groups(
    settings: CommonSettings, models: Models, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    grouped = settings.model_copy(update={"index_group_docs": 2})
    first, second = Registry(grouped, models), Registry(grouped, models)
    fake.configure(latency_s=LLM_LATENCY_S, paths=(CHAT,))
    shared = tenant_for()
    finished: dict[str, float] = {}

    async def insert(registry: Registry, doc_id: str, text: str) -> None:
        await (await registry.get(shared)).insert_text(doc_id, f"{doc_id}.txt", text)
        finished[doc_id] = time.monotonic()

    try:
        async with asyncio.timeout(120 * slowness()):
            batch = [
                asyncio.create_task(insert(first, f"batch-{i}", f"{ORCHARD} Batch note {i}."))
                for i in range(BATCH)
            ]
            await fake.until(lambda f: f.in_flight > 0)  # the batch's first group extracts
            await insert(second, "other", FALCON)
            await asyncio.gather(*batch)
    finally:
        await first.close()
        await second.close()
    # The other replica's document went in between the batch's groups, not after all of them.
    assert finished["other"] < max(finished[f"batch-{i}"] for i in range(BATCH))


async def test_queries_answer_while_another_replica_holds_the_tenants_writer_lock(
    registry: Registry, tenant_for: TenantFor, redis: Redis
) -> None:
    context = tenant_for()
    tenant = await registry.get(context)
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    other_replica = RedisIndexLock(redis, context.tenant_id)
    async with other_replica(), tenant._writer:  # and this replica's own gate, exclusively
        # Held until the queries return: a query waiting for either would never return.
        async with asyncio.timeout(30 * slowness()):
            for mode in ("naive", "mix"):
                found = await tenant.retrieve(
                    Question("Who founded Zorblax Industries?", mode=mode)
                )
                assert found.references[0].doc_id == "doc-z"
            answer = await tenant.answer(Question("Who founded Zorblax Industries?", mode="mix"))
        assert answer.references

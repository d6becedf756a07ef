"""One writer per tenant across replicas: the Redis index lock of the postgres profile."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from ragapi_common.rag.api import Question
from ragapi_common.rag.locks import RedisIndexLock
from tests.postgres.conftest import RegistryFactory
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX
from tests.support.fake_provider import CHAT, FakeProvider

LLM_LATENCY_S = 0.5


async def test_two_replicas_writing_one_tenant_take_turns(
    registries: RegistryFactory, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    first, second = await registries(), await registries()
    fake.configure(latency_s=LLM_LATENCY_S, paths=(CHAT,))

    # Control: two tenants on two replicas do extract at the same time.
    one, other = tenant_for(), tenant_for()
    await asyncio.gather(
        (await first.get(one)).insert_text("doc-o", "orchard.txt", ORCHARD),
        (await second.get(other)).insert_text("doc-o", "orchard.txt", ORCHARD),
    )
    assert fake.max_in_flight == 2

    fake.max_in_flight = 0
    shared = tenant_for()
    a, b = await first.get(shared), await second.get(shared)
    reports = await asyncio.gather(
        a.insert_text("doc-z", "zorblax.txt", ZORBLAX),
        b.insert_text("doc-f", "falcon.txt", FALCON),
    )
    assert fake.max_in_flight == 1
    assert all(report.entities for report in reports)
    for replica, query, doc_id in ((a, "Who steers the Kelvin Falcon?", "doc-f"),
                                   (b, "Who founded Zorblax Industries?", "doc-z")):  # fmt: skip
        found = await replica.retrieve(Question(query, mode="hybrid"))
        assert found.references[0].doc_id == doc_id


async def test_the_lock_is_renewed_while_held_and_freed_after(redis: Redis) -> None:
    holder = RedisIndexLock(redis, "tenant-a", ttl_s=0.6, poll_s=0.02)
    contender = RedisIndexLock(redis, "tenant-a", ttl_s=0.6, poll_s=0.02)
    entered: list[float] = []

    async def enter() -> None:
        async with contender():
            entered.append(time.monotonic())

    async with asyncio.timeout(15):
        async with holder():
            waiting = asyncio.create_task(enter())
            await asyncio.sleep(1.5)  # well past the TTL: only renewal keeps the lock
            assert not entered
            released = time.monotonic()
        await asyncio.wait_for(waiting, 2.0)
    assert entered[0] >= released
    assert not await redis.exists(holder.key)


async def test_a_dead_holders_lock_expires(redis: Redis) -> None:
    lock = RedisIndexLock(redis, "tenant-b", ttl_s=5.0, poll_s=0.02)
    # What a crashed replica leaves: the key with its TTL, and nobody renewing it.
    await redis.set(lock.key, "dead-token", px=400)
    started = time.monotonic()
    async with lock():
        waited = time.monotonic() - started
        assert await redis.ttl(lock.key) > 1
    assert 0.3 < waited < 2.0


async def test_other_tenants_do_not_wait(redis: Redis) -> None:
    async with RedisIndexLock(redis, "tenant-c")():
        await asyncio.wait_for(_enter(RedisIndexLock(redis, "tenant-d")), 1.0)


async def _enter(lock: RedisIndexLock) -> None:
    async with lock():
        pass


async def test_a_holder_asking_again_at_once_lets_a_waiting_replica_in_first(redis: Redis) -> None:
    holder = RedisIndexLock(redis, "tenant-e", poll_s=0.02)
    waiter = RedisIndexLock(redis, "tenant-e", poll_s=0.02)
    order: list[str] = []

    async def wait_for_it() -> None:
        async with waiter():
            order.append("waiter")

    async with asyncio.timeout(15):
        async with holder():
            waiting = asyncio.create_task(wait_for_it())
            await _until_waiting(redis, waiter)
        async with holder():  # the next group of this replica, asked for at once
            order.append("holder again")
        await waiting
    assert order == ["waiter", "holder again"]
    assert not await redis.exists(holder.key, holder.waiters_key)


async def test_with_nobody_waiting_the_holder_takes_it_again_at_once(redis: Redis) -> None:
    lock = RedisIndexLock(redis, "tenant-f", poll_s=1.0)
    async with asyncio.timeout(15):
        async with lock():
            pass
        await asyncio.wait_for(_enter(lock), 0.5)  # no step aside: it did not poll
    assert not await redis.exists(lock.handoff_key)


async def _until_waiting(redis: Redis, lock: RedisIndexLock) -> None:
    """Until ``lock``'s owner is listed as waiting (it polls; so does this)."""
    for _ in range(1000):
        if await redis.zscore(lock.waiters_key, lock.owner):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the waiter never said it waits")

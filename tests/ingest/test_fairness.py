"""The index gate: a total bound, a per-tenant bound, one writer per tenant across replicas."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from ragapi_ingest.fairness import Crowded, IndexGate

from .pipeline import eventually


def _gate(redis: Redis, **overrides: int | float) -> IndexGate:
    options: dict[str, float] = {"total": 2, "per_tenant": 1, "backlog": 1, "lease_ttl_s": 5}
    options.update(overrides)
    return IndexGate(
        redis,
        total=int(options["total"]),
        per_tenant=int(options["per_tenant"]),
        backlog=int(options["backlog"]),
        lease_ttl_s=options["lease_ttl_s"],
    )


async def test_a_tenant_backlog_does_not_starve_another(redis: Redis) -> None:
    gate = _gate(redis)
    release = asyncio.Event()
    order: list[str] = []

    async def job(tenant: str, name: str) -> None:
        try:
            async with gate.slot(tenant, patience_s=0.3):
                order.append(name)
                await release.wait()
        except Crowded:
            order.append(f"{name}:crowded")

    busy = [asyncio.create_task(job("alpha", f"a{i}")) for i in range(5)]

    async def crowded_out() -> list[str]:
        # Each crowded job gives up on its own patience timer: wait for all three, not the first.
        crowded = sorted(n for n in order if n.endswith(":crowded"))
        return crowded if len(crowded) >= 3 else []

    # alpha holds one slot, one alpha job waits, the rest go back to the queue...
    assert await eventually(crowded_out, timeout_s=10) == ["a2:crowded", "a3:crowded", "a4:crowded"]
    assert order[0] == "a0"
    # ...and beta runs at once on the second slot of the total.
    other = asyncio.create_task(job("beta", "b0"))

    async def beta_ran() -> bool:
        return "b0" in order

    await eventually(beta_ran, timeout_s=10)
    assert "a1" not in order
    release.set()
    await asyncio.gather(*busy, other)
    assert "a1" in order


async def test_one_writer_per_tenant_across_replicas(redis: Redis) -> None:
    first, second = _gate(redis, per_tenant=2), _gate(redis, per_tenant=2)
    holding = asyncio.Event()
    release = asyncio.Event()
    events: list[str] = []

    async def on(gate: IndexGate, name: str) -> None:
        async with gate.slot("gamma", patience_s=10):
            events.append(f"{name}:in")
            holding.set()
            await release.wait()
            events.append(f"{name}:out")

    one = asyncio.create_task(on(first, "one"))
    await holding.wait()
    two = asyncio.create_task(on(second, "two"))
    await asyncio.sleep(0.6)
    assert events == ["one:in"]  # the other replica waits for the lease
    release.set()
    await asyncio.gather(one, two)
    assert events == ["one:in", "one:out", "two:in", "two:out"]
    assert await redis.get("ragapi:ingest:{gamma}:writer") is None


async def test_the_total_bound_holds(redis: Redis) -> None:
    gate = _gate(redis, total=2, per_tenant=2, backlog=10)
    running = 0
    peak = 0

    async def job(tenant: str) -> None:
        nonlocal running, peak
        async with gate.slot(tenant, patience_s=5):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1

    await asyncio.gather(*(job(f"t{i % 4}") for i in range(16)))
    assert peak == 2


@pytest.mark.parametrize("per_tenant", [1, 3])
async def test_slots_of_a_tenant_are_bounded(redis: Redis, per_tenant: int) -> None:
    gate = _gate(redis, total=10, per_tenant=per_tenant, backlog=20)
    running = 0
    peak = 0

    async def job() -> None:
        nonlocal running, peak
        async with gate.slot("delta", patience_s=5):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.03)
            running -= 1

    await asyncio.gather(*(job() for _ in range(8)))
    assert peak == per_tenant

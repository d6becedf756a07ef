"""An evicted tenant leaves nothing behind: its instance is collected, its state and lock gone."""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import gc
import weakref
from typing import Any

import psutil
import pytest

from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.models.gate import TenantGate
from ragapi_common.rag._lightrag import shared_storage
from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import ZORBLAX
from tests.support.fake_provider import FakeProvider


def _left_in_shared_storage(workspace: str) -> list[str]:
    """Keys naming ``workspace`` in any of LightRAG's process-wide dicts (not only known ones)."""
    left = []
    for name, value in vars(shared_storage).items():
        if isinstance(value, dict):
            keys: dict[Any, Any] = value
            left += [f"{name}[{key!r}]" for key in keys if str(key).startswith(f"{workspace}:")]
    return left


async def test_evicted_tenants_are_collected_with_their_shared_state_and_lock(
    registry: Registry, tenant_for: TenantFor
) -> None:
    contexts = [tenant_for() for _ in range(3)]
    instances = []
    for context in contexts:
        tenant = await registry.get(context)
        await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
        await tenant.retrieve(Question("Who founded Zorblax Industries?", mode="naive"))
        instances.append(weakref.ref(tenant))
    del tenant
    assert all(_left_in_shared_storage(c.tenant_id) for c in contexts)

    for context in contexts:
        await registry.evict(context.tenant_id)
    gc.collect()

    assert [ref() for ref in instances] == [None, None, None]
    assert [_left_in_shared_storage(c.tenant_id) for c in contexts] == [[], [], []]
    assert not set(registry._locks) & {c.tenant_id for c in contexts}


def _lightrag_lock_vars() -> int:
    """LightRAG's per-lock ``ContextVar``s set in the current context."""
    return sum(1 for var in contextvars.copy_context() if var.name == "lock_ctx")


async def test_opening_and_evicting_tenants_leaves_nothing_in_the_callers_context(
    registry: Registry, tenant_for: TenantFor
) -> None:
    # This task lives on, like the sweeper or an event subscription that evicts tenants.
    before = _lightrag_lock_vars()
    for _ in range(5):
        context = tenant_for(llm=False)
        await registry.get(context)
        await registry.evict(context.tenant_id)
    assert _lightrag_lock_vars() == before


async def test_the_model_gate_keeps_no_semaphore_for_idle_tenants() -> None:
    gate = TenantGate(None, "llm")
    deadline = asyncio.get_running_loop().time() + 5
    for tenant_id in ("a", "b"):
        async with gate.admit(tenant_id, concurrency=2, deadline=deadline):
            assert set(gate._slots) == {tenant_id}
    assert gate._slots == {}


def _rss_mb() -> float:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # what the allocator could give back, given back
    return float(psutil.Process().memory_info().rss) / 2**20


@pytest.mark.memory
async def test_rss_returns_after_2000_tenants_are_opened_queried_and_evicted(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    embedding = {"base_url": fake.base_url, "model": "fake-embedding", "dim": 64}

    async def request(context: TenantContext) -> None:
        tenant = await registry.get(context)
        await tenant.retrieve(Question("Who founded Zorblax Industries?", mode="naive"))

    async def serve(count: int) -> None:
        for _ in range(count):
            context = tenant_for(embedding=embedding)
            await asyncio.create_task(request(context))  # as a request does: a task of its own
            await registry.evict(context.tenant_id)  # from this long-lived task
        fake.requests.clear()  # the fake's own records are not the process's

    await serve(100)  # first use of every code path: imports, caches, pools
    before = _rss_mb()
    await serve(2000)
    after = _rss_mb()
    assert registry.loaded() == []
    assert after - before < 10, f"RSS {before:.1f} -> {after:.1f} MB"

"""An evicted tenant leaves nothing behind: its instance is collected, its state and lock gone."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from ragapi_common.rag._lightrag import shared_storage
from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import ZORBLAX


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

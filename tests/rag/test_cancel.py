"""An insert cancelled mid-extraction (shutdown hands its job back) stops LightRAG at once.

Nothing of the cancelled run keeps going (no task of it, so no LLM call), and
the next insert of the same document (its redelivery) ends exactly as a clean
insert of it does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ragapi_common.rag.api import IndexReport
from ragapi_common.rag.registry import Registry
from ragapi_common.rag.tenant import LightRagTenant
from tests.rag.conftest import TenantFor
from tests.rag.test_content import ITEMS
from tests.support.fake_provider import CHAT, FakeProvider

#: Long enough that a cancellation which waited for the LLM would fail the test.
SLOW_LLM_S = 60.0
WORDS = "Larkspur Mill grinds grain for Ferndale Village while Copper Ridge Mine ships ore."
TEXT = " ".join(f"{WORDS} Entry {i} of the Ferndale ledger." for i in range(600))


def pipeline_tasks() -> list[asyncio.Task[Any]]:
    """LightRAG pipeline runs and per-chunk extraction tasks still alive."""
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("lightrag-pipeline")
        or "extract_entities" in repr(task.get_coro())
    ]


async def cancel_mid_extraction(
    fake: FakeProvider, insert: Callable[[], Awaitable[IndexReport]]
) -> None:
    """Start ``insert`` with a slow LLM, cancel it once LLM calls are in flight."""
    fake.configure(latency_s=SLOW_LLM_S, paths=(CHAT,))
    task = asyncio.create_task(insert())
    async with asyncio.timeout(60):
        await fake.until(lambda f: f.in_flight >= 2)
    began = asyncio.get_running_loop().time()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done
    assert task.cancelled()
    assert asyncio.get_running_loop().time() - began < 2.0
    assert pipeline_tasks() == []  # so nothing can call the LLM any more
    fake.configure(latency_s=0.0)


async def graph_of(tenant: LightRagTenant) -> tuple[set[str], int]:
    graph = await tenant.graph(None, 3, 1000)
    return {node["id"] for node in graph.nodes}, len(graph.edges)


async def test_a_cancelled_text_insert_stops_at_once_and_its_retry_is_whole(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    await cancel_mid_extraction(fake, lambda: tenant.insert_text("doc-big", "big.txt", TEXT))
    left = await tenant.rag.doc_status.get_by_id("doc-big")
    assert left is not None
    assert left["status"] == "failed"  # LightRAG's own cancellation

    again = await tenant.insert_text("doc-big", "big.txt", TEXT)  # the redelivery
    clean_tenant = await registry.get(tenant_for())
    clean = await clean_tenant.insert_text("doc-big", "big.txt", TEXT)
    assert again == clean
    assert again.chunks > 10
    assert await graph_of(tenant) == await graph_of(clean_tenant)


async def test_a_cancelled_content_insert_stops_at_once_and_its_retry_is_whole(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    """A content list's run is awaited by its insert, not shared: cancelled the same way."""
    items = [*ITEMS[:2], {"type": "text", "text": TEXT, "page_idx": 0}]  # long: many chunks
    tenant = await registry.get(tenant_for())
    await cancel_mid_extraction(
        fake, lambda: tenant.insert_content("doc-m", "mills.pdf", items, {})
    )
    again = await tenant.insert_content("doc-m", "mills.pdf", items, {})
    clean_tenant = await registry.get(tenant_for())
    clean = await clean_tenant.insert_content("doc-m", "mills.pdf", items, {})
    assert again == clean
    assert again.chunks > 10
    assert await graph_of(tenant) == await graph_of(clean_tenant)

"""Helpers of the pipeline tests: the tenant's RAG instance, retrieval, the graph."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import TenantContext, TenantLookupRequest
from ragapi_common.rag.api import Question, RagRegistry, TenantRag
from tests.support.apps import TenantHandle

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout_s: float = 60) -> T:
    """Poll ``check`` until it answers something truthy; that answer."""
    async with asyncio.timeout(timeout_s):
        for _ in itertools.count():
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


async def tenant_rag(bus: Bus, rag: RagRegistry | None, tenant: TenantHandle) -> TenantRag:
    assert rag is not None
    ctx = await bus.request(
        subjects.TENANTS_GET, TenantLookupRequest(tenant_id=tenant.id), TenantContext
    )
    return await rag.get(ctx)


async def cited(instance: TenantRag, query: str, *, top_k: int = 20) -> set[str]:
    """The doc_ids naive retrieval finds for ``query``."""
    retrieval = await instance.retrieve(Question(query=query, mode="naive", top_k=top_k))
    return {ref.doc_id for ref in retrieval.references}


async def graph_names(instance: TenantRag) -> set[str]:
    """Entity names in the tenant's graph, lower-cased."""
    graph = await instance.graph(None, 3, 1000)
    return {str(node.get("id", "")).lower() for node in graph.nodes}

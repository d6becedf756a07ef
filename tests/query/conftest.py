"""The query stack for tests: a fake model provider, one shared RAG registry, the real ingest
service (documents go in through its pipeline) and the query service over real HTTP.

Every test here runs with asyncio debug mode on: a callback that holds the loop
longer than 100 ms fails the test (set ``RAGAPI_TEST_LOOP_DEBUG=0`` to skip).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ragapi_common.metrics import Metrics
from ragapi_common.rag.api import RagRegistry
from ragapi_common.rag.registry import open_registry
from ragapi_ingest.app import create_app as create_ingest_app
from ragapi_ingest.settings import IngestSettings
from ragapi_query.app import create_app as create_query_app
from ragapi_query.settings import QuerySettings
from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle, running
from tests.support.fake_provider import FakeProvider

from .loopguard import LoopGuard
from .serving import serving


def _warm_up() -> None:
    """Pay one-time process costs (lazy imports, the BPE table) before the loop runs, so the
    loop guard judges what a request costs, not what the first one of a process does."""
    import uvicorn.lifespan.on
    import uvicorn.protocols.http.h11_impl  # noqa: F401

    from ragapi_common.rag.tokenizer import OfflineTokenizer

    OfflineTokenizer()


_warm_up()

#: How long ``add_documents`` waits for its task to end.
INGEST_WAIT_S = 240.0

#: A tenant's config that never trips the queries/min limit in tests that are not about it.
UNLIMITED = {"limits": {"queries_per_minute": 1_000_000}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LightRAG's workers, cancelled when an instance is closed, can drop a ``queue.get()``
    they had not started awaiting; that warning is LightRAG's shutdown, not a query's."""
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:coroutine 'Queue.get' was never awaited:RuntimeWarning"
                )
            )


@pytest.fixture(autouse=True)
async def loop_guard() -> AsyncIterator[LoopGuard | None]:
    """Asyncio debug mode; fail when any callback blocked the loop for > 100 ms."""
    if os.environ.get("RAGAPI_TEST_LOOP_DEBUG", "1") == "0":
        yield None
        return
    guard = LoopGuard(asyncio.get_running_loop())
    with guard as slow:
        yield guard
    assert not slow.reports, "the event loop was blocked:\n" + "\n".join(slow.reports)


def starting(guard: LoopGuard | None) -> contextlib.AbstractContextManager[None]:
    """Building apps (OpenAPI schemas, settings, TLS contexts) is start-up, not serving."""
    return guard.paused() if guard is not None else contextlib.nullcontext()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@dataclass
class QueryStack:
    """The running services of one test."""

    url: str
    client: httpx.AsyncClient
    ingest: httpx.AsyncClient
    fake: FakeProvider
    rag: RagRegistry
    settings: QuerySettings
    doc_ids: dict[str, str] = field(default_factory=dict)

    async def add_documents(
        self, tenant: TenantHandle, docs: dict[str, str], *, wait_s: float = INGEST_WAIT_S
    ) -> dict[str, str]:
        """Ingest ``{name: text}`` through the ingest API; wait until processed; doc ids."""
        body = {"documents": [{"name": name, "text": text} for name, text in docs.items()]}
        response = await self.ingest.post("/v1/documents/text", json=body, headers=tenant.headers)
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        task: dict[str, Any] = {}
        # A harness deadline, not what is tested: generous, for bursts of tenants on a busy
        # machine (each ingest waits for the ones ahead of it). The polls back off so that
        # fifty waiting tenants do not crowd out the ingest they wait for.
        delay = 0.05
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                while task.get("status") not in ("succeeded", "failed", "partial"):
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, 0.5)
                    answer = await self.ingest.get(f"/v1/tasks/{task_id}", headers=tenant.headers)
                    task = answer.json() if answer.status_code == 200 else {}
        assert task.get("status") == "succeeded", task
        ids = {doc["name"]: doc["doc_id"] for doc in task["documents"]}
        self.doc_ids.update(ids)
        return ids

    async def query(self, tenant: TenantHandle, **body: Any) -> httpx.Response:
        return await self.client.post("/v1/query", json=body, headers=tenant.headers)


StackFactory = Callable[..., Awaitable[QueryStack]]


@pytest.fixture
async def make_stack(
    loop_guard: LoopGuard | None,
    common_settings: dict[str, Any],
    fake: FakeProvider,
    tenant_factory: TenantFactory,
) -> AsyncIterator[StackFactory]:
    """``await make_stack(**query_settings)``: ingest + query on one registry, fake models."""
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> QueryStack:
            models = {
                "llm_base_url": fake.base_url,
                "llm_model": "fake-llm",
                "llm_api_key": "sk-fake",
                "embedding_base_url": fake.base_url,
                "embedding_model": "fake-embedding",
                "embedding_dim": 64,
            }
            base = {**common_settings, **models}
            with starting(loop_guard):
                metrics = Metrics()
                query_settings = QuerySettings(**{**base, **overrides})
                rag = open_registry(query_settings, metrics=metrics)
                ingest_app = create_ingest_app(IngestSettings(**base), metrics=metrics, rag=rag)
                query_app = create_query_app(query_settings, metrics=Metrics(), rag=rag)
            stack.push_async_callback(rag.close)
            ingest = await stack.enter_async_context(running(ingest_app))
            url = await stack.enter_async_context(serving(query_app))
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
            return QueryStack(url, client, ingest, fake, rag, query_settings)

        yield make


@pytest.fixture
async def query_stack(make_stack: StackFactory) -> QueryStack:
    return await make_stack()

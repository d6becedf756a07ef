"""The ingest stack for tests: a fake model provider, a RAG registry, and the real ingest
service over real HTTP (uvicorn), with the real tenants service behind its auth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.metrics import Metrics
from ragapi_common.rag.api import RagRegistry
from ragapi_common.rag.registry import open_registry
from ragapi_ingest.app import create_app
from ragapi_ingest.settings import IngestSettings
from tests.conftest import TenantFactory
from tests.query.serving import serving
from tests.support.apps import TenantHandle
from tests.support.fake_provider import FakeProvider

FINISHED = ("succeeded", "failed", "partial")
#: Quick retries so failure paths end within a test's time.
FAST_RETRIES = {"job_backoff_s": (0.05, 0.1, 0.2), "max_deliver": 8, "index_defer_after_s": 0.2}


@pytest.fixture(autouse=True)
async def _no_ocr_jobs_left(nats_url: str) -> AsyncIterator[None]:
    """OCR jobs of these tests' documents would reach the OCR tests' workers later."""
    yield
    bus = await Bus.connect(nats_url, name="ingest-test-cleanup")
    try:
        await bus.js.purge_stream(subjects.JOBS_STREAM, subject=subjects.JOB_OCR)
    finally:
        await bus.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@dataclass
class IngestStack:
    url: str
    client: httpx.AsyncClient
    settings: IngestSettings
    rag: RagRegistry | None
    fake: FakeProvider

    async def wait_task(
        self, tenant: TenantHandle, task_id: str, *, timeout_s: float = 120
    ) -> dict[str, Any]:
        """Poll the task until it ends; its final body."""
        async with asyncio.timeout(timeout_s):
            while True:
                response = await self.client.get(f"/v1/tasks/{task_id}", headers=tenant.headers)
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                if body["status"] in FINISHED:
                    return body
                await asyncio.sleep(0.1)

    async def texts(self, tenant: TenantHandle, docs: dict[str, str]) -> dict[str, Any]:
        body = {"documents": [{"name": name, "text": text} for name, text in docs.items()]}
        response = await self.client.post("/v1/documents/text", json=body, headers=tenant.headers)
        assert response.status_code == 202, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def upload(
        self, tenant: TenantHandle, files: list[tuple[str, bytes]], **data: str
    ) -> httpx.Response:
        parts = [("files", (name, content)) for name, content in files]
        return await self.client.post(
            "/v1/documents", files=parts, data=data, headers=tenant.headers
        )


StackFactory = Callable[..., Awaitable[IngestStack]]


@pytest.fixture
async def make_ingest(
    common_settings: dict[str, Any], fake: FakeProvider, tenant_factory: TenantFactory
) -> AsyncIterator[StackFactory]:
    """``await make_ingest(workers=True, **settings)``: the ingest service on a real port."""
    async with AsyncExitStack() as stack:

        async def make(*, workers: bool = True, **overrides: Any) -> IngestStack:
            models = {
                "llm_base_url": fake.base_url,
                "llm_model": "fake-llm",
                "llm_api_key": "sk-fake",
                "embedding_base_url": fake.base_url,
                "embedding_model": "fake-embedding",
                "embedding_dim": 64,
            }
            values = {**common_settings, **models, **FAST_RETRIES, **overrides}
            settings = IngestSettings(run_workers=workers, **values)
            metrics = Metrics()
            rag: RagRegistry | None = None
            if workers:
                rag = open_registry(settings, metrics=metrics)
                stack.push_async_callback(rag.close)
            app = create_app(settings, metrics=metrics, rag=rag)
            url = await stack.enter_async_context(serving(app))
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
            return IngestStack(url, client, settings, rag, fake)

        yield make

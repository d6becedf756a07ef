"""Services on servers this test owns: real NATS and Redis that a test kills and restarts.

The session's servers are shared by every other test, so these are started per test
(:func:`tests.support.servers.owned_nats` / ``owned_redis``) and the tenants, ingest
(with workers) and query services run over real HTTP on them, one RAG registry shared
by ingest and query as under ``ragapi up``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragapi_common.metrics import Metrics
from ragapi_common.rag.registry import open_registry
from ragapi_ingest.app import create_app as create_ingest_app
from ragapi_ingest.settings import IngestSettings
from ragapi_query.app import create_app as create_query_app
from ragapi_query.settings import QuerySettings
from ragapi_tenants.app import create_app as create_tenants_app
from ragapi_tenants.settings import TenantsSettings
from tests.query.serving import serving
from tests.support.apps import ADMIN_TOKEN, SECRET_KEY, TenantHandle
from tests.support.fake_provider import FakeProvider
from tests.support.servers import OwnedServer, owned_nats, owned_redis

FINISHED = ("succeeded", "failed", "partial")


@dataclass
class Outage:
    """The owned servers and the three services' base URLs."""

    nats: OwnedServer
    redis: OwnedServer
    tenants: str
    ingest: str
    query: str
    client: httpx.AsyncClient
    fake: FakeProvider
    admin: dict[str, str]

    async def tenant(self, tenant_id: str) -> TenantHandle:
        body = {"id": tenant_id, "name": tenant_id, "config": {}}
        answer = await self.client.post(f"{self.tenants}/v1/tenants", json=body, headers=self.admin)
        assert answer.status_code == 201, answer.text
        key = answer.json()["api_key"]
        return TenantHandle(tenant_id, key, {"authorization": f"Bearer {key}"})

    async def add_text(self, tenant: TenantHandle, name: str, text: str) -> httpx.Response:
        body = {"documents": [{"name": name, "text": text}]}
        return await self.client.post(
            f"{self.ingest}/v1/documents/text", json=body, headers=tenant.headers
        )

    async def wait_task(self, tenant: TenantHandle, task_id: str, within_s: float) -> str:
        """Poll the task until it ends (an outage's 503s are waited through); its status."""
        async with asyncio.timeout(within_s):
            while True:
                answer = await self.client.get(
                    f"{self.ingest}/v1/tasks/{task_id}", headers=tenant.headers
                )
                if answer.status_code == 200 and answer.json()["status"] in FINISHED:
                    return str(answer.json()["status"])
                await asyncio.sleep(0.1)

    async def readiness(self) -> set[int]:
        """The status codes of the three services' ``/readyz``."""
        codes = set()
        for base in (self.tenants, self.ingest, self.query):
            codes.add((await self.client.get(f"{base}/readyz")).status_code)
        return codes

    async def wait_ready(self, within_s: float) -> None:
        async with asyncio.timeout(within_s):
            while True:
                if await self.readiness() == {200}:
                    return
                await asyncio.sleep(0.1)


@pytest.fixture
def purge_sweep_interval_s() -> float:
    """How often the tenants service queues owed purges (a test that must see one owed
    overrides it with an interval the test never reaches)."""
    return 0.5


@pytest.fixture
async def outage(tmp_path: Path, purge_sweep_interval_s: float) -> AsyncIterator[Outage]:
    (tmp_path / "nats").mkdir()
    (tmp_path / "redis").mkdir()
    nats, redis = owned_nats(tmp_path / "nats"), owned_redis(tmp_path / "redis")
    async with AsyncExitStack() as stack:
        for server in (nats, redis):
            await server.start()
            stack.push_async_callback(server.stop)
        fake = await stack.enter_async_context(FakeProvider())
        settings: dict[str, Any] = {
            "nats_url": nats.url,
            "redis_url": redis.url,
            "data_dir": tmp_path / "data",
            "admin_token": ADMIN_TOKEN,
            "secret_key": SECRET_KEY,
            "log_json": False,
            # Keys resolved once stay cached for the whole test: what needs the tenants
            # service is decided by the test (a fresh key), not by a TTL running out.
            "auth_cache_ttl_s": 600.0,
            "llm_base_url": fake.base_url,
            "llm_model": "fake-llm",
            "llm_api_key": "sk-fake",
            "embedding_base_url": fake.base_url,
            "embedding_model": "fake-embedding",
            "embedding_dim": 64,
        }
        metrics = Metrics()
        query_settings = QuerySettings(**settings)
        rag = open_registry(query_settings, metrics=metrics)
        stack.push_async_callback(rag.close)
        apps = [
            create_tenants_app(
                TenantsSettings(**settings, purge_sweep_interval_s=purge_sweep_interval_s),
                metrics=Metrics(),
            ),
            create_ingest_app(
                IngestSettings(**settings, task_stream_refresh_s=0.5), metrics=metrics, rag=rag
            ),
            create_query_app(query_settings, metrics=Metrics(), rag=rag),
        ]
        urls = [await stack.enter_async_context(serving(app)) for app in apps]
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        yield Outage(nats, redis, *urls, client=client, fake=fake, admin=admin)

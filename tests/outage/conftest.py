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

import httpx
import pytest

from tests.support.apps import ADMIN_TOKEN, TenantHandle
from tests.support.fake_provider import FakeProvider
from tests.support.owned_stack import start_owned
from tests.support.servers import OwnedServer

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
    async with AsyncExitStack() as stack:
        owned = await start_owned(
            stack,
            tmp_path,
            tenants={"purge_sweep_interval_s": purge_sweep_interval_s},
            ingest={"task_stream_refresh_s": 0.5},
        )
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        yield Outage(owned.nats, owned.redis, owned.tenants, owned.ingest, owned.query,
                     client=client, fake=owned.fake, admin=admin)  # fmt: skip

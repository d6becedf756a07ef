"""The fault suite's stack and its record.

``stack``: the tenants, ingest (with its workers) and query services over real HTTP on
NATS (JetStream on disk) and Redis (append-only file) that the test owns, so it can kill,
stop and restart them while the services keep running, and a fake model provider. One
RAG registry is shared by ingest and query, as under ``ragapi up``. A module changes the
services' settings with a ``stack_settings`` fixture.

Each test fills in its row of ``docs/reliability.md`` through the ``reliability`` fixture
(:mod:`tests.support.reliability`).
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

from tests.support.apps import ADMIN_TOKEN, TenantHandle
from tests.support.fake_provider import FakeProvider
from tests.support.faults import Observed, client
from tests.support.owned_stack import start_owned
from tests.support.servers import OwnedServer
from tests.support.slowness import slowness

FINISHED = ("succeeded", "failed", "partial")
#: What a client waits for any answer under a fault before it counts as a hang.
REQUEST_DEADLINE_S = 30.0


@dataclass
class Stack:
    nats: OwnedServer
    redis: OwnedServer
    tenants: str
    ingest: str
    query: str
    http: httpx.AsyncClient
    observed: Observed
    fake: FakeProvider
    data_dir: Path

    async def tenant(self, tenant_id: str) -> TenantHandle:
        body = {"id": tenant_id, "name": tenant_id}
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        answer = await self.http.post(f"{self.tenants}/v1/tenants", json=body, headers=admin)
        assert answer.status_code == 201, answer.text
        key = answer.json()["api_key"]
        return TenantHandle(tenant_id, key, {"authorization": f"Bearer {key}"})

    async def add_texts(self, tenant: TenantHandle, texts: list[dict[str, str]]) -> httpx.Response:
        return await self.http.post(
            f"{self.ingest}/v1/documents/text", json={"documents": texts}, headers=tenant.headers
        )

    async def task(self, tenant: TenantHandle, task_id: str) -> dict[str, Any] | None:
        """The task, or None while it cannot be read (an outage's 503)."""
        answer = await self.http.get(f"{self.ingest}/v1/tasks/{task_id}", headers=tenant.headers)
        return answer.json() if answer.status_code == 200 else None  # type: ignore[no-any-return]

    async def wait_task(self, tenant: TenantHandle, task_id: str, within_s: float) -> str:
        """Poll until the task ends (503s waited through); its status."""
        async with asyncio.timeout(within_s * slowness()):
            while True:
                task = await self.task(tenant, task_id)
                if task is not None and task["status"] in FINISHED:
                    return str(task["status"])
                await asyncio.sleep(0.2)

    async def ready(self) -> bool:
        for base in (self.tenants, self.ingest, self.query):
            if (await self.http.get(f"{base}/readyz")).status_code != 200:
                return False
        return True


def texts(prefix: str, count: int) -> list[dict[str, str]]:
    """``count`` short documents, each distinct (no deduplication)."""
    return [
        {"name": f"{prefix}-{n}.txt", "text": f"Pier {n} of Harbour {prefix} moors the Lark{n}."}
        for n in range(count)
    ]


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    """Settings a module changes for every service of its stack."""
    return {}


@pytest.fixture
def stack_root(tmp_path: Path) -> Path:
    """Where the stack keeps NATS's store, Redis's files and the data directory (as
    ``ragapi up`` does under its data directory)."""
    return tmp_path


@pytest.fixture
async def stack(stack_root: Path, stack_settings: dict[str, Any]) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as stack:
        # A job whose acknowledgement was lost comes back soon.
        settings = {"index_ack_wait_s": 10.0, **stack_settings}
        owned = await start_owned(stack, stack_root, settings)
        observed = Observed(REQUEST_DEADLINE_S * slowness())
        http = await stack.enter_async_context(client(observed))
        yield Stack(owned.nats, owned.redis, owned.tenants, owned.ingest, owned.query,
                    http=http, observed=observed, fake=owned.fake,
                    data_dir=stack_root / "data")  # fmt: skip

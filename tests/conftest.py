"""Session-wide real servers, per-test clean state, and a running tenants service."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from ragapi_common.bus import Bus
from ragapi_tenants.app import create_app as create_tenants_app
from ragapi_tenants.settings import TenantsSettings
from tests.support.apps import ADMIN_TOKEN, SECRET_KEY, TenantHandle, running
from tests.support.servers import nats_server, redis_server

pytest_plugins = ["tests.support.reliability"]

TenantFactory = Callable[..., Awaitable[TenantHandle]]
_tenant_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    # A stuck read fails the test in seconds instead of at pytest-timeout's 300.
    client = Redis.from_url(redis_url, socket_timeout=10)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = await Bus.connect(nats_url, name="test")
    yield connected
    await connected.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def common_settings(nats_url: str, redis_url: str, data_dir: Path) -> dict[str, Any]:
    """Keyword arguments every service's settings class takes in tests."""
    return {
        "nats_url": nats_url,
        "redis_url": redis_url,
        "data_dir": data_dir,
        "admin_token": ADMIN_TOKEN,
        "secret_key": SECRET_KEY,
        "log_json": False,
        # Harness margin: pytest-xdist runs four test processes on two cores, where the
        # 2 s default can elapse for a loop that is merely waiting for a core. The outage
        # tests, which are about these timeouts, set their own.
        "redis_timeout_s": 10.0,
        "nats_timeout_s": 10.0,
    }


@pytest.fixture
async def tenants_client(
    common_settings: dict[str, Any], redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """The real tenants service (HTTP in-process, NATS endpoints live), as the admin."""
    app = create_tenants_app(TenantsSettings(**common_settings))
    async with running(app, authorization=f"Bearer {ADMIN_TOKEN}") as client:
        yield client


@pytest.fixture
def tenant_factory(tenants_client: httpx.AsyncClient) -> TenantFactory:
    """``await tenant_factory(config={...})`` creates a tenant and answers its API key."""

    async def create(config: dict[str, Any] | None = None, tenant_id: str = "") -> TenantHandle:
        tenant_id = tenant_id or f"tenant-{next(_tenant_numbers)}"
        body = {"id": tenant_id, "name": tenant_id, "config": config or {}}
        response = await tenants_client.post("/v1/tenants", json=body)
        assert response.status_code == 201, response.text
        api_key = response.json()["api_key"]
        return TenantHandle(tenant_id, api_key, {"authorization": f"Bearer {api_key}"})

    return create

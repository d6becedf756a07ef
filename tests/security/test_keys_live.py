"""API keys on a running ``ragapi up`` (with its own NATS and Redis, as in a cluster):

- the admin token is never a tenant key and a tenant key never the admin token;
- no key is anywhere at rest in clear: not in Redis, not in JetStream's files, not in the
  data directory;
- a tenant's rate limit lives in Redis, so a restarted process still enforces it (the limit
  is per tenant, which bounds each of its keys too: a tenant cannot multiply its budget by
  asking for more keys).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from starlette.requests import Request

from ragapi_common import auth
from ragapi_common.errors import Unauthorized
from tests.support.servers import nats_server, redis_server
from tests.support.upstack import Stack, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    work = tmp_path_factory.mktemp("keys")
    for name in ("nats", "redis"):
        (work / name).mkdir()
    with nats_server(work / "nats") as nats_url, redis_server(work / "redis") as redis_url:
        yield nats_url, redis_url, work


def _stack(servers: tuple[str, str, Path], under: str = "up") -> AbstractContextManager[Stack]:
    nats_url, redis_url, work = servers
    (work / under).mkdir(exist_ok=True)
    # Another stack on the same Redis finds the default tenant there: no key is printed.
    return running_stack(
        work / under,
        default_key=under == "up",
        RAGAPI_NATS_URL=nats_url,
        RAGAPI_REDIS_URL=redis_url,
    )


@pytest.fixture(scope="module")
def stack(servers: tuple[str, str, Path]) -> Iterator[Stack]:
    with _stack(servers) as running:
        yield running


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    headers = {"authorization": f"Bearer {stack.admin_token}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=60) as client:
        yield stack, client


async def test_admin_token_and_tenant_keys_are_not_interchangeable(
    admin: tuple[Stack, httpx.AsyncClient],
) -> None:
    stack, client = admin
    as_admin = {"authorization": f"Bearer {stack.admin_token}"}
    as_tenant = {"authorization": f"Bearer {stack.tenant_key}"}
    tenant_paths = [("GET", "/v1/documents"), ("POST", "/v1/query"), ("GET", "/v1/graph")]
    for method, path in tenant_paths:
        response = await client.request(method, path, headers=as_admin, json={"query": "q"})
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
    for method, path in [("GET", "/v1/tenants"), ("POST", "/v1/tenants")]:
        response = await client.request(method, path, headers=as_tenant, json={"id": "x-y"})
        assert response.status_code == 401, (path, response.text)
    assert (await client.get("/v1/documents", headers=as_tenant)).status_code == 200


def test_the_admin_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", spy)

    request = Request({"type": "http", "headers": [(b"authorization", b"Bearer guess")]})
    with pytest.raises(Unauthorized):
        auth.require_admin(request, "the-token")
    assert compared == [(b"guess", b"the-token")]


async def _everything_at_rest(redis_url: str, work: Path) -> bytes:
    """Every Redis value (as DUMP) and every file under ``work`` (JetStream, data dir)."""
    async with Redis.from_url(redis_url) as redis:
        dumps = [await redis.dump(key) or b"" for key in await redis.keys("*")]
    files = await asyncio.to_thread(
        lambda: [p.read_bytes() for p in work.rglob("*") if p.is_file() and p.suffix != ".log"]
    )
    return b"".join(dumps + files)


async def test_no_key_is_stored_in_clear(
    servers: tuple[str, str, Path], admin: tuple[Stack, httpx.AsyncClient]
) -> None:
    stack, client = admin
    created = await client.post("/v1/tenants", json={"id": "at-rest", "name": "r"})
    extra = await client.post("/v1/tenants/at-rest/keys")
    keys = [stack.tenant_key, created.json()["api_key"], extra.json()["api_key"]]
    for key in keys:  # used, so resolved over the bus and cached
        response = await client.get("/v1/documents", headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 200
    at_rest = await _everything_at_rest(servers[1], servers[2])
    assert len(at_rest) > 1_000  # JetStream's and LightRAG's files are there
    for key in keys:
        assert key.encode() not in at_rest


async def _until_limited(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    """Ask until the tenant's queries/min says no; its Retry-After."""
    for _ in range(10):
        response = await client.post(f"{url}/v1/query", json={"query": "q"}, headers=headers)
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "rate_limited"
            return float(response.headers["retry-after"])
        assert response.status_code == 200, response.text
    raise AssertionError("never rate limited")


async def test_a_rate_limit_survives_a_restart(
    servers: tuple[str, str, Path], stack: Stack
) -> None:
    # The process that comes after is started first (it knows nothing of what the first one
    # will do), so the 60 s window of a 1/min limit is not spent waiting for a start-up.
    admin = {"authorization": f"Bearer {stack.admin_token}"}
    config = {"limits": {"queries_per_minute": 1}}
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"id": "limited", "name": "l", "config": config}
        created = await client.post(f"{stack.url}/v1/tenants", json=body, headers=admin)
        key = {"authorization": f"Bearer {created.json()['api_key']}"}
        with _stack(servers, "after") as after:
            with _stack(servers, "before") as before:
                retry_after = await _until_limited(client, before.url, key)
            limited_at = time.monotonic()  # and the first process is gone
            response = await client.post(f"{after.url}/v1/query", json={"query": "q"}, headers=key)
    assert time.monotonic() - limited_at < retry_after, "the window closed before the check"
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"

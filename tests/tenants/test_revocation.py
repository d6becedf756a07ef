"""A revoked key stops working on every process within 1 s (the contract's promise): by the
revocation event, without a lookup that was in flight at the time refilling the cache."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragapi_common.auth import TenantAuth
from ragapi_common.bus import Bus, Endpoint
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import ResolveKeyRequest, TenantContext, TenantEvent
from ragapi_common.errors import DependencyUnavailable, Unauthorized
from ragapi_common.secrets import hash_api_key
from ragapi_ingest.app import create_app as create_ingest_app
from ragapi_ingest.settings import IngestSettings
from ragapi_query.app import create_app as create_query_app
from ragapi_query.settings import QuerySettings
from tests.conftest import TenantFactory
from tests.support.apps import running
from tests.support.servers import owned_nats


async def test_revocation_reaches_a_second_process_within_a_second(
    nats_url: str, tenants_client: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    key = (await tenants_client.post(f"/v1/tenants/{tenant.id}/keys")).json()
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.auth_probe",
        nats_url,
        key["api_key"],
        stdout=asyncio.subprocess.PIPE,
    )
    assert probe.stdout is not None
    try:
        # Generous waits: a loaded machine may be slow to start the probe; the 1 s promise is
        # checked on the timestamps below, not on how long this test waits.
        assert (await asyncio.wait_for(probe.stdout.readline(), 120)).strip() == b"ready"
        revoked_at = time.time()
        response = await tenants_client.delete(f"/v1/tenants/{tenant.id}/keys/{key['key_id']}")
        assert response.status_code == 204
        line = (await asyncio.wait_for(probe.stdout.readline(), 30)).decode().split()
        assert line[0] == "revoked"
        assert float(line[1]) - revoked_at < 1.0
    finally:
        if probe.returncode is None:
            probe.kill()
        await probe.wait()


@asynccontextmanager
async def _instances(common_settings: dict[str, Any]) -> AsyncIterator[list[Instance]]:
    """Two ingest apps and a query app: separate processes' worth of state (each its own NATS
    connection and key cache, 30 s by default), all on the same NATS."""
    apps = [
        (create_ingest_app(IngestSettings(run_workers=False, **common_settings)), "/v1/documents"),
        (create_ingest_app(IngestSettings(run_workers=False, **common_settings)), "/v1/documents"),
        (create_query_app(QuerySettings(**common_settings)), "/v1/models"),
    ]
    async with AsyncExitStack() as stack:
        yield [Instance(await stack.enter_async_context(running(app)), path) for app, path in apps]


@dataclass(frozen=True)
class Instance:
    client: httpx.AsyncClient
    path: str

    async def status(self, api_key: str) -> int:
        headers = {"authorization": f"Bearer {api_key}"}
        return (await self.client.get(self.path, headers=headers)).status_code


async def _refused_after(instances: list[Instance], api_key: str, since: float) -> list[float]:
    """Seconds from ``since`` until each instance answered 401 (polled; a harness deadline)."""
    refused: dict[int, float] = {}
    async with asyncio.timeout(10):
        while len(refused) < len(instances):
            for index, instance in enumerate(instances):
                if index not in refused and await instance.status(api_key) == 401:
                    refused[index] = time.monotonic() - since
            await asyncio.sleep(0.005)
    return [refused[index] for index in range(len(instances))]


async def test_every_instance_refuses_a_revoked_key_within_a_second(
    common_settings: dict[str, Any],
    tenants_client: httpx.AsyncClient,
    tenant_factory: TenantFactory,
) -> None:
    tenant = await tenant_factory()
    key = (await tenants_client.post(f"/v1/tenants/{tenant.id}/keys")).json()
    async with _instances(common_settings) as instances:
        assert [await each.status(key["api_key"]) for each in instances] == [200, 200, 200]
        response = await tenants_client.delete(f"/v1/tenants/{tenant.id}/keys/{key['key_id']}")
        revoked_at = time.monotonic()
        assert response.status_code == 204
        assert max(await _refused_after(instances, key["api_key"], revoked_at)) < 1.0
        # The tenant's other key still works everywhere.
        assert [await each.status(tenant.api_key) for each in instances] == [200, 200, 200]


async def test_a_lookup_in_flight_during_the_revocation_is_not_cached(nats_url: str) -> None:
    """The answer of a lookup sent before the revocation can arrive after its event: it may
    serve the request that asked, never the ones after it. A scripted tenants endpoint on
    the real NATS holds its answer until the event has been handled."""
    context = TenantContext(tenant_id="race", name="race", key_id="key_1")
    asked, answer_now = asyncio.Event(), asyncio.Event()
    answers: list[TenantContext | None] = [context, None]

    async def resolve(request: ResolveKeyRequest) -> TenantContext:
        if request.key_hash == hash_api_key("rk_ping"):
            return context
        asked.set()
        await answer_now.wait()
        answer = answers.pop(0)
        if answer is None:
            raise Unauthorized("unknown or revoked API key")
        return answer

    tenants = await Bus.connect(nats_url, name="fake-tenants")
    caller = await Bus.connect(nats_url, name="caller")
    try:
        endpoint = Endpoint("resolve", subjects.TENANTS_RESOLVE, ResolveKeyRequest, resolve)
        await tenants.serve("ragapi-tenants-race", "1.0.0", [endpoint])
        auth = TenantAuth(caller, ttl_s=30)
        await auth.start()
        await _until_answered(caller)  # the endpoint and auth's subscription are in place
        lookup = asyncio.create_task(auth.resolve("rk_race"))
        await asyncio.wait_for(asked.wait(), 10)
        seen = auth.generation
        event = TenantEvent(tenant_id="race", key_id="key_1", key_hash=hash_api_key("rk_race"))
        await tenants.publish(subjects.EVENT_KEY_REVOKED, event)
        async with asyncio.timeout(10):
            while True:  # until this process has handled the event
                if auth.generation > seen:
                    break
                await asyncio.sleep(0.005)
        answer_now.set()
        assert (await lookup).tenant_id == "race"  # asked before the revocation: answered
        with pytest.raises(Unauthorized):
            await auth.resolve("rk_race")  # asked again, not served from the cache
    finally:
        await caller.close()
        await tenants.close()


async def _until_answered(caller: Bus) -> None:
    """NATS handles one connection's messages in order: once a request of ``caller`` is
    answered, its earlier subscriptions are registered, and so is the endpoint."""
    async with asyncio.timeout(10):
        while True:
            try:
                await caller.request(
                    subjects.TENANTS_RESOLVE,
                    ResolveKeyRequest(key_hash=hash_api_key("rk_ping")),
                    TenantContext,
                )
                return
            except DependencyUnavailable:
                await asyncio.sleep(0.02)


async def test_a_reconnected_process_looks_every_key_up_again(tmp_path: Path) -> None:
    """A revocation while this process's NATS connection is down never reaches it (core NATS
    does not replay): once the connection is back, no key is served from the cache. The
    owned NATS server is killed, the key revoked, the server started again."""
    server = owned_nats(tmp_path)
    await server.start()
    revoked = False

    async def resolve(request: ResolveKeyRequest) -> TenantContext:
        if revoked and request.key_hash == hash_api_key("rk_gone"):
            raise Unauthorized("unknown or revoked API key")
        return TenantContext(tenant_id="gone", name="gone", key_id="key_1")

    tenants = await Bus.connect(server.url, name="fake-tenants")
    caller = await Bus.connect(server.url, name="caller")
    try:
        endpoint = Endpoint("resolve", subjects.TENANTS_RESOLVE, ResolveKeyRequest, resolve)
        await tenants.serve("ragapi-tenants-gone", "1.0.0", [endpoint])
        auth = TenantAuth(caller, ttl_s=30)
        await auth.start()
        await _until_answered(caller)
        assert (await auth.resolve("rk_gone")).tenant_id == "gone"  # cached for 30 s
        await server.kill()
        await _until(lambda: not caller.connected and not tenants.connected)
        revoked = True  # no event: nobody is connected to hear one
        await server.start()
        await _until(lambda: caller.connected)
        async with asyncio.timeout(10):
            while True:
                try:
                    await auth.resolve("rk_gone")
                except DependencyUnavailable:  # the fake tenants service is not back yet
                    await asyncio.sleep(0.05)
                    continue
                except Unauthorized:
                    break
                pytest.fail("a key cached before the outage was accepted after it")
    finally:
        await caller.close()
        await tenants.close()
        await server.stop()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)

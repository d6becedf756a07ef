"""A dependency that dies answers 503 with ``Retry-After`` at once, never 500, and the
services carry on by themselves once it is back on the same port.

Each test kills one real server (SIGKILL) under running services, times every request
made while it is down, starts it again and checks that everything works again, that a
task event stream opened before the outage ends normally and that the document being
indexed when it died is processed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.apps import TenantHandle
from tests.support.slowness import slowness

from .conftest import Outage

pytestmark = pytest.mark.slow

#: What a client may wait for the answer that says "retry later" (quiet machine; scaled by
#: slowness()).
ANSWER_WITHIN_S = 1.0
#: A hung server: one timeout (RAGAPI_REDIS_TIMEOUT_S / RAGAPI_NATS_TIMEOUT_S, 2 s) and
#: the clean-up after it.
STUCK_WITHIN_S = 3.0
#: Harness deadlines (a loaded 2-core machine), not what is tested.
INDEX_WITHIN_S = 120.0
RECOVER_WITHIN_S = 30.0

TEXT = "The lighthouse keeper of Arden logs the weather at dawn and dusk. " * 4


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    url: str
    kwargs: dict[str, Any]


def calls(outage: Outage, tenant: TenantHandle, cold: TenantHandle, task_id: str) -> list[Call]:
    """One request per endpoint family: uploads, listing, tasks, query, tenants; and one
    with a key no service has resolved yet (the tenants service must be asked)."""
    ingest, headers = outage.ingest, tenant.headers
    texts = {"documents": [{"name": "during.txt", "text": "written during the outage"}]}
    return [
        Call("upload", "POST", f"{ingest}/v1/documents", {
            "files": [("files", ("during.md", b"# during the outage\n"))], "headers": headers}),
        Call("text", "POST", f"{ingest}/v1/documents/text", {"json": texts, "headers": headers}),
        Call("list", "GET", f"{ingest}/v1/documents", {"headers": headers}),
        Call("task", "GET", f"{ingest}/v1/tasks/{task_id}", {"headers": headers}),
        Call("query", "POST", f"{outage.query}/v1/query", {
            "json": {"query": "What does the keeper log?"}, "headers": headers}),
        Call("tenants", "GET", f"{outage.tenants}/v1/tenants", {"headers": outage.admin}),
        Call("tenant", "GET", f"{outage.tenants}/v1/tenants/{tenant.id}", {
            "headers": outage.admin}),
        Call("cold key", "GET", f"{ingest}/v1/documents", {"headers": cold.headers}),
    ]  # fmt: skip


async def timed(client: httpx.AsyncClient, call: Call) -> tuple[httpx.Response, float]:
    began = time.perf_counter()
    answer = await client.request(call.method, call.url, **call.kwargs)
    return answer, time.perf_counter() - began


class TaskStream:
    """``GET /v1/tasks/{id}/events`` read in the background: its events, and how it ended."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.opened = asyncio.Event()
        self._task = asyncio.create_task(self._read(client, url, headers))

    async def _read(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with client.stream("GET", url, headers=headers) as answer:
            assert answer.status_code == 200
            self.opened.set()
            kind = ""
            async for line in answer.aiter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.append((kind, json.loads(line.removeprefix("data: "))))

    async def ended(self, within_s: float) -> list[str]:
        """The kinds of event seen, once the stream closed normally (raises if it broke)."""
        await asyncio.wait_for(asyncio.shield(self._task), within_s)
        return [kind for kind, _ in self.events]


async def _prepare(outage: Outage) -> tuple[TenantHandle, TenantHandle, str]:
    """A tenant with one processed document, its key cached by ingest and query; and a
    second tenant whose key nobody resolved yet."""
    tenant, cold = await outage.tenant("acme"), await outage.tenant("cold")
    added = await outage.add_text(tenant, "before.txt", TEXT)
    assert added.status_code == 202, added.text
    task_id = added.json()["task_id"]
    assert await outage.wait_task(tenant, task_id, INDEX_WITHIN_S) == "succeeded"
    query = await outage.client.post(
        f"{outage.query}/v1/query", json={"query": "keeper?"}, headers=tenant.headers
    )
    assert query.status_code == 200, query.text
    return tenant, cold, task_id


async def _start_slow_task(outage: Outage, tenant: TenantHandle) -> tuple[str, TaskStream]:
    """A document still being indexed when the server dies, and its event stream."""
    outage.fake.configure(latency_s=1.5)
    added = await outage.add_text(tenant, "slow.txt", "A slow document about tides. " * 8)
    assert added.status_code == 202, added.text
    task_id = added.json()["task_id"]
    stream = TaskStream(outage.client, f"{outage.ingest}/v1/tasks/{task_id}/events", tenant.headers)
    await asyncio.wait_for(stream.opened.wait(), 30)
    await outage.fake.until(lambda fake: len(fake.requests) > 0)
    return task_id, stream


async def _check_during(
    outage: Outage, all_calls: list[Call], expected: Callable[[str], int]
) -> dict[str, tuple[int, float]]:
    async with asyncio.timeout(10):  # the probes notice the outage
        while True:
            if 503 in await outage.readiness():
                break
            await asyncio.sleep(0.05)
    seen: dict[str, tuple[int, float]] = {}
    for call in all_calls:
        answer, took = await timed(outage.client, call)
        seen[call.name] = (answer.status_code, round(took, 3))
        assert answer.status_code != 500, (call.name, answer.text)
        assert answer.status_code == expected(call.name), (call.name, answer.text)
        if answer.status_code == 503:
            assert took < ANSWER_WITHIN_S * slowness(), (call.name, took)
            assert answer.json()["error"]["code"] == "dependency_unavailable", answer.text
            assert int(answer.headers["retry-after"]) >= 1
    return seen


async def _check_after(
    outage: Outage, tenant: TenantHandle, cold: TenantHandle, slow: tuple[str, TaskStream]
) -> None:
    await outage.wait_ready(RECOVER_WITHIN_S)
    slow_task, stream = slow
    outage.fake.configure(latency_s=0.0)
    assert await outage.wait_task(tenant, slow_task, INDEX_WITHIN_S) == "succeeded"
    kinds = await stream.ended(RECOVER_WITHIN_S)
    assert kinds[0] == "snapshot", kinds
    assert kinds[-1] == "done", kinds
    added = await outage.add_text(tenant, "after.txt", "Written once the server was back.")
    assert added.status_code == 202, added.text
    assert await outage.wait_task(tenant, added.json()["task_id"], INDEX_WITHIN_S) == "succeeded"
    for call in calls(outage, tenant, cold, slow_task):
        answer, _ = await timed(outage.client, call)
        assert answer.status_code in (200, 202), (call.name, answer.text)
    listed = await outage.client.get(f"{outage.ingest}/v1/documents", headers=tenant.headers)
    names = {doc["name"] for doc in listed.json()["documents"]}
    assert {"before.txt", "slow.txt", "after.txt"} <= names, names


@pytest.mark.timeout(600)
async def test_redis_outage(outage: Outage) -> None:
    tenant, cold, task_id = await _prepare(outage)
    slow = await _start_slow_task(outage, tenant)
    await outage.redis.kill()
    seen = await _check_during(outage, calls(outage, tenant, cold, task_id), lambda _: 503)
    print("redis down:", seen)
    await outage.redis.start()
    await _check_after(outage, tenant, cold, slow)


#: With NATS down, what only needs Redis (and a cached key) still answers.
_NATS_FREE = {"list": 200, "task": 200, "query": 200, "tenants": 200, "tenant": 200}


@pytest.mark.timeout(600)
async def test_nats_outage(outage: Outage) -> None:
    tenant, cold, task_id = await _prepare(outage)
    slow = await _start_slow_task(outage, tenant)
    await outage.nats.kill()
    seen = await _check_during(
        outage, calls(outage, tenant, cold, task_id), lambda name: _NATS_FREE.get(name, 503)
    )
    print("nats down:", seen)
    await outage.nats.start()
    await _check_after(outage, tenant, cold, slow)


#: Endpoints that need Redis, and those that need JetStream (the object store).
_NEED_REDIS = ("upload", "list", "task", "query", "tenants")
_NEED_NATS = ("upload", "text")


@pytest.mark.timeout(600)
async def test_stuck_servers(outage: Outage) -> None:
    """A server that hangs (SIGSTOP: connections open, no answer) costs a request one
    timeout (2 s by default), not redis-py's 5 s or nats-py's 5 s per call. (A request
    to another service over a hung NATS waits that service's 5 s budget.)"""
    tenant, cold, task_id = await _prepare(outage)
    by_name = {call.name: call for call in calls(outage, tenant, cold, task_id)}
    for server, names in ((outage.redis, _NEED_REDIS), (outage.nats, _NEED_NATS)):
        server.pause()
        try:
            seen = {}
            for name in names:
                answer, took = await timed(outage.client, by_name[name])
                seen[name] = (answer.status_code, round(took, 3))
                assert answer.status_code == 503, (name, answer.text)
                assert took < STUCK_WITHIN_S * slowness(), (name, took)
            print("stuck:", server.url, seen)
        finally:
            server.resume()
        await outage.wait_ready(RECOVER_WITHIN_S)
    added = await outage.add_text(tenant, "after.txt", "Written once both were answering again.")
    assert added.status_code == 202, added.text
    assert await outage.wait_task(tenant, added.json()["task_id"], INDEX_WITHIN_S) == "succeeded"

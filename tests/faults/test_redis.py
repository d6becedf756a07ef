"""Redis restarted (SIGKILL, started again at once) and, separately, stopped (SIGTERM) for
20 s during a batch; the services are not restarted.

Redis is a server the test owns (append-only file, as ``ragapi up`` runs it), on the same
port and directory after the restart. While it is down: ``/readyz`` answers 503 on every
service, and every request that needs Redis answers 503 with ``Retry-After``. After it
is back: ready again and uploads accepted within ``RECOVER_WITHIN_S``, every task record
acknowledged before the outage is still there, and every accepted document is processed
exactly once.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.ingest.pipeline import eventually
from tests.support.faults import Row, exactly_once, lightrag_entries
from tests.support.slowness import slowness

from .conftest import Stack, texts

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BATCH = 30
#: The issue's bound from Redis answering again to the services working (quiet machine).
RECOVER_WITHIN_S = 5.0


async def _outage(stack: Stack, headers: dict[str, str], how: str, down_s: float) -> None:
    if how == "kill":
        await stack.redis.kill()
    else:
        await stack.redis.stop()
    gone = time.monotonic()
    await _until(stack, ready=False, within_s=10)  # the probes notice
    while True:
        for base in (stack.tenants, stack.ingest, stack.query):
            ready = await stack.http.get(f"{base}/readyz")
            assert ready.status_code == 503, (base, ready.text)
        answer = await stack.http.get(f"{stack.ingest}/v1/documents", headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "dependency_unavailable"
        if time.monotonic() - gone >= down_s:
            return
        await asyncio.sleep(0.5)


async def _until(stack: Stack, *, ready: bool, within_s: float) -> None:
    async with asyncio.timeout(within_s * slowness()):
        while True:
            if await stack.ready() == ready:
                return
            await asyncio.sleep(0.1)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("how", "down_s"), [("kill", 0.0), ("stop", 20.0)], ids=["restarted", "stopped-20s"]
)
async def test_redis_outage_during_a_batch(
    stack: Stack, reliability: Row, how: str, down_s: float
) -> None:
    what = "killed and restarted" if how == "kill" else f"stopped for {down_s:g} s"
    reliability.fault = f"Redis {what} during a {BATCH}-document batch"
    reliability.client_saw = stack.observed.statuses
    tenant = await stack.tenant("quay")
    stack.fake.configure(latency_s=0.3)
    accepted = await stack.add_texts(tenant, texts("before", BATCH))
    assert accepted.status_code == 202, accepted.text
    task_id = accepted.json()["task_id"]
    tasks = {task_id: [d["doc_id"] for d in accepted.json()["documents"]]}
    async with asyncio.timeout(60 * slowness()):
        await stack.fake.until(lambda fake: len(fake.requests) >= 10)
    running = await stack.task(tenant, task_id)
    assert running is not None
    assert running["status"] == "running", "the batch ended before the fault: nothing tested"

    await _outage(stack, tenant.headers, how, down_s)
    await stack.redis.start()
    back = time.monotonic()
    await _until(stack, ready=True, within_s=RECOVER_WITHIN_S)
    after = await stack.add_texts(tenant, texts("after", 1))
    assert after.status_code == 202, after.text
    reliability.recovery_s = round(time.monotonic() - back, 2)
    tasks[after.json()["task_id"]] = [d["doc_id"] for d in after.json()["documents"]]
    # A pooled connection the restart closed can still fail one read (503 + Retry-After).
    task = await eventually(
        lambda: stack.task(tenant, task_id), timeout_s=RECOVER_WITHIN_S * slowness()
    )
    assert task["total"] == BATCH, "the task acknowledged before the outage changed"
    stack.fake.configure(latency_s=0.0)
    for each in tasks:
        await stack.wait_task(tenant, each, 240)

    reliability.accepted = sum(len(docs) for docs in tasks.values())
    stored = await lightrag_entries(stack.data_dir, tenant.id)
    reliability.lost = await exactly_once(stack.http, stack.ingest, tenant.headers, tasks, stored)
    reliability.notes = (
        f"/readyz 503 and requests 503 + Retry-After while down; ready within "
        f"{RECOVER_WITHIN_S:g} s (x slowness) of Redis answering"
    )
    stack.observed.assert_clean()

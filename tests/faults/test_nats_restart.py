"""NATS (JetStream on disk) killed and started again during a 50-document batch; the
services are not restarted.

NATS here is a server the test owns (started by the ``stack`` fixture, not ``ragapi
up``'s supervised one), SIGKILLed mid-batch and started again on the same port and store
directory after ``DOWN_S``. Meanwhile a client keeps uploading and reading: uploads
answer 503 with ``Retry-After``, reads that need only Redis answer 200. Afterwards every
accepted document is processed exactly once.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.faults import Row, exactly_once, lightrag_entries
from tests.support.slowness import slowness

from .conftest import Stack, texts

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BATCH = 50
#: How long NATS stays down (the issue says "restarted": a crash, then a start).
DOWN_S = 3.0


@pytest.mark.timeout(600)
async def test_nats_restarted_during_a_batch(stack: Stack, reliability: Row) -> None:
    reliability.fault = (
        f"NATS killed (SIGKILL) during a {BATCH}-document batch, back after {DOWN_S:g} s"
    )
    reliability.client_saw = stack.observed.statuses
    tenant = await stack.tenant("harbour")
    stack.fake.configure(latency_s=0.3)
    accepted = await stack.add_texts(tenant, texts("before", BATCH))
    assert accepted.status_code == 202, accepted.text
    tasks = {accepted.json()["task_id"]: [d["doc_id"] for d in accepted.json()["documents"]]}
    async with asyncio.timeout(60 * slowness()):
        await stack.fake.until(lambda fake: len(fake.requests) >= 10)

    await stack.nats.kill()
    killed = time.monotonic()
    n = 0
    while time.monotonic() - killed < DOWN_S:
        n += 1
        during = await stack.add_texts(tenant, texts(f"during{n}", 1))
        if during.status_code == 202:
            tasks[during.json()["task_id"]] = [d["doc_id"] for d in during.json()["documents"]]
        else:
            assert during.status_code == 503, during.text
        listed = await stack.http.get(f"{stack.ingest}/v1/documents", headers=tenant.headers)
        assert listed.status_code == 200, listed.text
        await asyncio.sleep(0.2)
    unfinished = await stack.task(tenant, accepted.json()["task_id"])
    assert unfinished is not None
    assert unfinished["status"] == "running", "the batch ended before the fault: nothing tested"

    await stack.nats.start()
    started = time.monotonic()
    async with asyncio.timeout(30 * slowness()):
        while True:
            after = await stack.add_texts(tenant, texts("after", 1))
            if after.status_code == 202:
                break
            await asyncio.sleep(0.1)
    reliability.recovery_s = round(time.monotonic() - started, 2)
    tasks[after.json()["task_id"]] = [d["doc_id"] for d in after.json()["documents"]]
    stack.fake.configure(latency_s=0.0)
    for task_id in tasks:
        await stack.wait_task(tenant, task_id, 240)

    reliability.accepted = sum(len(docs) for docs in tasks.values())
    stored = await lightrag_entries(stack.data_dir, tenant.id)
    reliability.lost = await exactly_once(stack.http, stack.ingest, tenant.headers, tasks, stored)
    reliability.notes = "uploads 503 + Retry-After while down; reads 200; no service restarted"
    stack.observed.assert_clean()

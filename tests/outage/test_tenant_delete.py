"""A tenant deleted while NATS is down is still purged: the DELETE answers 503 with
``Retry-After``, and once NATS is back a repeated DELETE answers 202 (not 404) and the
purge runs, or, if nobody repeats it, the tenants service's sweep queues the purge."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from ragapi_common.bus import Bus

from .conftest import Outage

pytestmark = pytest.mark.slow

#: Harness deadlines (a loaded 2-core machine), not what is tested.
INDEX_WITHIN_S = 120.0
RECOVER_WITHIN_S = 30.0


async def _doomed_tenant_deleted_during_an_outage(outage: Outage, tenant_id: str) -> str:
    """A tenant with one indexed document, deleted while NATS is down (503); its URL."""
    tenant = await outage.tenant(tenant_id)
    answer = await outage.add_text(tenant, "fen.txt", "Harrowgate Fen floods each spring.")
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    assert await outage.wait_task(tenant, task_id, INDEX_WITHIN_S) == "succeeded"
    assert await _leftovers(outage, tenant_id) >= 2  # its document's record and file
    await outage.nats.kill()
    async with asyncio.timeout(RECOVER_WITHIN_S):  # until the services have noticed
        while True:
            if 200 not in await outage.readiness():
                break
            await asyncio.sleep(0.05)
    url = f"{outage.tenants}/v1/tenants/{tenant_id}"
    answer = await outage.client.delete(url, headers=outage.admin)
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) >= 1
    # The owed purge would take a new tenant of the same id with it.
    body = {"id": tenant_id, "name": tenant_id, "config": {}}
    answer = await outage.client.post(
        f"{outage.tenants}/v1/tenants", json=body, headers=outage.admin
    )
    assert answer.status_code == 409, answer.text
    await outage.nats.start()
    await outage.wait_ready(RECOVER_WITHIN_S)
    return url


async def _leftovers(outage: Outage, tenant_id: str) -> int:
    """How many records and stored files the tenant has."""
    redis = Redis.from_url(outage.redis.url)
    bus = await Bus.connect(outage.nats.url, name="purge-check")
    try:
        records = [k async for k in redis.scan_iter(match=f"ragapi:ingest:{{{tenant_id}}}:*")]
        return len(records) + len(await bus.files.names(prefix=f"{tenant_id}/"))
    finally:
        await bus.close()
        await redis.aclose()


async def _wait_purged(outage: Outage, tenant_id: str) -> None:
    async with asyncio.timeout(INDEX_WITHIN_S):
        while True:
            if not await _leftovers(outage, tenant_id):
                return
            await asyncio.sleep(0.1)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("purge_sweep_interval_s", [3600.0])  # the DELETE, not the sweep
async def test_a_repeated_delete_after_a_nats_outage_purges(outage: Outage) -> None:
    url = await _doomed_tenant_deleted_during_an_outage(outage, "doomed")
    answer = await outage.client.delete(url, headers=outage.admin)
    assert answer.status_code == 202, answer.text
    await _wait_purged(outage, "doomed")
    # Queued: nothing is owed any more.
    assert (await outage.client.delete(url, headers=outage.admin)).status_code == 404


@pytest.mark.timeout(600)
async def test_a_delete_nobody_repeats_is_purged_by_the_sweep(outage: Outage) -> None:
    url = await _doomed_tenant_deleted_during_an_outage(outage, "forgotten")
    await _wait_purged(outage, "forgotten")
    assert (await outage.client.delete(url, headers=outage.admin)).status_code == 404

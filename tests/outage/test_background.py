"""Background work carries on through a Redis outage: a job waits for Redis instead of
spending its deliveries, and a writer lease keeps being renewed once Redis is back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from ragapi_common.bus import Bus, JobContext, WorkerSpec
from ragapi_common.contracts.payloads import PurgeJob
from ragapi_common.outages import unavailable
from ragapi_common.redis_pool import redis_client
from ragapi_common.shutdown import Shutdown
from ragapi_ingest.fairness import IndexGate
from tests.support.servers import OwnedServer, owned_redis


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[OwnedServer]:
    server = owned_redis(tmp_path)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(redis_server: OwnedServer) -> AsyncIterator[Redis]:
    redis = redis_client(redis_server.url, max_connections=4, timeout_s=0.5)
    yield redis
    await redis.aclose()


async def _until(condition: Callable[[], Awaitable[bool]], within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


async def test_a_job_waits_for_redis_instead_of_failing(
    nats_url: str, redis_server: OwnedServer, client: Redis
) -> None:
    """Redis down for longer than the job's whole retry schedule: the job is neither given
    up nor redelivered; it runs again in its delivery and succeeds once Redis is back."""
    bus = await Bus.connect(nats_url, name="outage-test", unavailable=unavailable)
    tenant = f"t{uuid.uuid4().hex[:8]}"
    runs: list[int] = []
    exhausted: list[str] = []

    async def handle(job: PurgeJob, ctx: JobContext) -> None:
        runs.append(ctx.attempt)
        await client.incr(f"done:{job.tenant_id}")

    async def on_exhausted(job: PurgeJob, reason: str) -> None:
        exhausted.append(reason)

    spec = WorkerSpec(
        durable=f"test-{tenant}",
        subject=f"ragapi.jobs.test.{tenant}",
        model=PurgeJob,
        handle=handle,
        on_exhausted=on_exhausted,
        max_deliver=2,
        backoff_s=(0.05,),
    )
    worker = await bus.start_worker(spec)
    try:
        await redis_server.kill()
        await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)

        async def tried_past_its_deliveries() -> bool:
            return len(runs) > spec.max_deliver

        await _until(tried_past_its_deliveries, 30)
        assert exhausted == []
        await redis_server.start()

        async def done() -> bool:
            return await client.get(f"done:{tenant}") == b"1"

        await _until(done, 30)
        assert exhausted == []
        assert set(runs) == {1}, runs  # one delivery, run again in place
    finally:
        await worker.stop(Shutdown(1.0))
        await bus.close()


async def test_writer_lease_renewal_survives_a_redis_outage(
    redis_server: OwnedServer, client: Redis
) -> None:
    """The renewal that meets the outage fails; the next ones, after the restart, work."""
    gate = IndexGate(client, total=2, per_tenant=1, backlog=1, lease_ttl_s=6)  # renewed every 2 s
    key = "ragapi:ingest:{acme}:writer"
    renewals: list[float] = []
    renew = gate._renew

    async def counted(**kwargs: Any) -> Any:  # the renewal script, each call recorded
        renewals.append(asyncio.get_running_loop().time())
        return await renew(**kwargs)

    gate._renew = counted  # type: ignore[assignment]
    async with gate.slot("acme", patience_s=1):
        await redis_server.kill()
        killed = asyncio.get_running_loop().time()

        async def renewal_met_the_outage() -> bool:
            return any(at > killed for at in renewals)

        await _until(renewal_met_the_outage, 10)
        await redis_server.start()
        # Restarted from its append-only file, the key has at most 4 s left (a renewal
        # failed since the last one that worked): more than that, only a renewal since.

        async def renewed() -> bool:
            return int(await client.pttl(key)) > 4500

        await _until(renewed, 10)
    await gate.close()

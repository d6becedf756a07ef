"""The NATS adapter against a real JetStream server."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from ragapi_common.bus import (
    Bus,
    Endpoint,
    JobContext,
    PermanentJobError,
    WorkerSpec,
    _without_credentials,
)
from ragapi_common.contracts.payloads import (
    PurgeJob,
    ResolveKeyRequest,
    TenantContext,
    TenantEvent,
)
from ragapi_common.errors import DependencyUnavailable, NotFound, Unauthorized
from ragapi_common.secrets import hash_api_key
from ragapi_common.shutdown import Shutdown
from tests.ingest.pipeline import eventually


async def test_request_reply_maps_remote_errors(bus: Bus) -> None:
    subject = f"test.resolve.{uuid.uuid4().hex}"

    async def resolve(req: ResolveKeyRequest) -> TenantContext:
        if req.key_hash != hash_api_key("good"):
            raise Unauthorized("unknown key")
        return TenantContext(tenant_id="acme", name="Acme")

    await bus.serve("test-svc", "1.0.0", [Endpoint("resolve", subject, ResolveKeyRequest, resolve)])
    ctx = await bus.request(
        subject, ResolveKeyRequest(key_hash=hash_api_key("good")), TenantContext
    )
    assert ctx.tenant_id == "acme"
    with pytest.raises(Unauthorized, match="unknown key"):
        await bus.request(subject, ResolveKeyRequest(key_hash=hash_api_key("bad")), TenantContext)


async def test_request_without_responder_is_unavailable(bus: Bus) -> None:
    with pytest.raises(DependencyUnavailable):
        await bus.request(
            "test.nobody", ResolveKeyRequest(key_hash=hash_api_key("x")), TenantContext
        )


async def test_events_reach_subscribers(bus: Bus) -> None:
    got: asyncio.Queue[TenantEvent] = asyncio.Queue()

    async def on_event(subject: str, event: TenantEvent) -> None:
        await got.put(event)

    await bus.subscribe("test.events.>", TenantEvent, on_event)
    await bus.publish("test.events.one", TenantEvent(tenant_id="t1"))
    event = await asyncio.wait_for(got.get(), 5)
    assert event.tenant_id == "t1"


async def test_worker_retries_then_exhausts(bus: Bus) -> None:
    """A transient failure is retried with backoff; the last failure calls on_exhausted."""
    attempts: list[int] = []
    exhausted: asyncio.Queue[str] = asyncio.Queue()
    tenant = f"t{uuid.uuid4().hex[:8]}"

    async def handle(job: PurgeJob, ctx: JobContext) -> None:
        if job.tenant_id == tenant:
            attempts.append(ctx.attempt)
            raise RuntimeError("flaky")

    async def on_exhausted(job: PurgeJob, reason: str) -> None:
        await exhausted.put(reason)

    spec = WorkerSpec(
        durable=f"test-{tenant}",
        subject=f"ragapi.jobs.test.{tenant}",
        model=PurgeJob,
        handle=handle,
        on_exhausted=on_exhausted,
        max_deliver=3,
        backoff_s=(0.1, 0.1),
    )
    worker = await bus.start_worker(spec)
    await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)
    await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)  # deduplicated
    reason = await asyncio.wait_for(exhausted.get(), 10)
    await worker.stop(Shutdown(1))
    assert attempts == [1, 2, 3]
    assert "flaky" in reason


async def test_worker_terms_poison_at_once(bus: Bus) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    calls: list[int] = []
    exhausted: asyncio.Queue[str] = asyncio.Queue()

    async def handle(job: PurgeJob, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise PermanentJobError("unreadable")

    async def on_exhausted(job: PurgeJob, reason: str) -> None:
        await exhausted.put(reason)

    spec = WorkerSpec(
        durable=f"test-{tenant}",
        subject=f"ragapi.jobs.test.{tenant}",
        model=PurgeJob,
        handle=handle,
        on_exhausted=on_exhausted,
    )
    worker = await bus.start_worker(spec)
    await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)
    assert await asyncio.wait_for(exhausted.get(), 10) == "unreadable"
    await asyncio.sleep(0.3)
    await worker.stop(Shutdown(1))
    assert calls == [1]


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_file_store_streams_both_ways(bus: Bus) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    name = f"t/{uuid.uuid4().hex}"
    assert await bus.files.write(name, _chunks(data, 100_000)) == len(data)
    digest = hashlib.sha256()
    async for chunk in bus.files.read(name):
        assert len(chunk) <= 128 * 1024
        digest.update(chunk)
    assert digest.digest() == hashlib.sha256(data).digest()
    assert await bus.files.delete(name)
    with pytest.raises(NotFound):
        await bus.files.read_bytes(name)


def test_a_server_is_named_without_its_credentials() -> None:
    """What a connection error says about the URL (a URL may carry a user and password)."""
    assert _without_credentials("nats://svc:hunter2@nats:4222") == "nats://nats:4222"
    assert _without_credentials("nats://a:1@h1:4222,nats://b:2@h2:4222") == (
        "nats://h1:4222,nats://h2:4222"
    )
    assert _without_credentials("nats://nats:4222") == "nats://nats:4222"


async def test_worker_stops_fetching_once_its_connection_is_closed(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A closed connection ends the fetch loop (one warning), instead of retrying forever."""
    own = await Bus.connect(nats_url, name="closing")
    tenant = f"t{uuid.uuid4().hex[:8]}"

    async def handle(job: PurgeJob, ctx: JobContext) -> None:
        raise AssertionError("no job is submitted")

    spec = WorkerSpec(
        durable=f"test-{tenant}",
        subject=f"ragapi.jobs.test.{tenant}",
        model=PurgeJob,
        handle=handle,
    )
    worker = await own.start_worker(spec)
    assert worker.fetching
    await own.client.close()

    async def ended() -> bool:
        return not worker.fetching

    await eventually(ended, timeout_s=5)
    # The loop is over: no later retry can log again.
    failures = [r for r in caplog.records if spec.durable in r.getMessage()]
    assert len(failures) <= 1, [r.getMessage() for r in failures]


async def _long_job_worker(
    bus: Bus, tenant: str
) -> tuple[WorkerSpec[PurgeJob], asyncio.Queue[int]]:
    """A spec whose jobs never end by themselves; the queue gets each delivery's attempt."""
    started: asyncio.Queue[int] = asyncio.Queue()

    async def handle(job: PurgeJob, ctx: JobContext) -> None:
        await started.put(ctx.attempt)
        await asyncio.Event().wait()

    spec = WorkerSpec(
        durable=f"test-{tenant}", subject=f"ragapi.jobs.test.{tenant}", model=PurgeJob,
        handle=handle, ack_wait_s=30,
    )  # fmt: skip
    return spec, started


async def test_worker_stop_hands_a_long_job_back_within_the_grace_period(bus: Bus) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    spec, started = await _long_job_worker(bus, tenant)
    worker = await bus.start_worker(spec)
    await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)
    assert await asyncio.wait_for(started.get(), 10) == 1
    began = asyncio.get_running_loop().time()
    await worker.stop(Shutdown(2.0))
    took = asyncio.get_running_loop().time() - began
    assert 0.9 <= took < 2.0  # the work share (half of it), then the hand-back
    # Handed back at once (nak, no delay): the next worker gets it long before the ack wait.
    again = await bus.start_worker(spec)
    try:
        assert await asyncio.wait_for(started.get(), 10) == 2
    finally:
        shutdown = Shutdown(1.0)
        shutdown.hurry()
        await again.stop(shutdown)


async def test_a_hurried_stop_cancels_jobs_at_once(bus: Bus) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    spec, started = await _long_job_worker(bus, tenant)
    worker = await bus.start_worker(spec)
    await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)
    await asyncio.wait_for(started.get(), 10)
    shutdown = Shutdown(60.0)
    stopping = asyncio.create_task(worker.stop(shutdown))
    done, _ = await asyncio.wait({stopping}, timeout=0.3)
    assert not done  # stop waits for the job (it would for 30 s)
    began = asyncio.get_running_loop().time()
    shutdown.hurry()
    await asyncio.wait_for(stopping, 5)
    assert asyncio.get_running_loop().time() - began < 1.0
    assert worker.busy == 0


async def test_a_job_handed_back_on_its_last_delivery_still_comes_back(bus: Bus) -> None:
    """A shutdown does not use up a job's deliveries: its last one is handed back too."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    spec, started = await _long_job_worker(bus, tenant)
    spec = dataclasses.replace(spec, max_deliver=1)  # the first delivery is the last
    worker = await bus.start_worker(spec)
    await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)
    assert await asyncio.wait_for(started.get(), 10) == 1
    hurried = Shutdown(1.0)
    hurried.hurry()
    await worker.stop(hurried)
    again = await bus.start_worker(spec)
    try:
        assert await asyncio.wait_for(started.get(), 10) == 1  # a fresh message
    finally:
        await again.stop(hurried)


async def test_a_job_handed_back_at_once_is_not_lost_to_the_stopped_loop(bus: Bus) -> None:
    """The fetch loop's last pull request outlives the loop; a job naked now must not go to it
    (it would come back only after the ack wait)."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    spec, started = await _long_job_worker(bus, tenant)  # ack wait 30 s
    worker = await bus.start_worker(spec)
    await bus.submit(spec.subject, PurgeJob(tenant_id=tenant), msg_id=tenant)
    assert await asyncio.wait_for(started.get(), 10) == 1
    hurried = Shutdown(1.0)
    hurried.hurry()
    await worker.stop(hurried)  # within the second the loop's next pull request waits
    again = await bus.start_worker(spec)
    try:
        assert await asyncio.wait_for(started.get(), 10) == 2
    finally:
        await again.stop(hurried)

"""``create_app``: the ingest service (HTTP API and, unless disabled, its workers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from redis.asyncio import Redis
from starlette.applications import Starlette

from ragapi_common.auth import TenantAuth
from ragapi_common.bus import Bus
from ragapi_common.metrics import Metrics
from ragapi_common.rag.api import RagRegistry
from ragapi_common.resources import open_resources
from ragapi_common.shutdown import Shutdown
from ragapi_common.web import Slot, build_app, dependency_checks

from .admit import Admission
from .context import Ingest
from .progress import Progress
from .records import Records
from .recovery import Recovery
from .routes import openapi, routes
from .runner import Workers
from .settings import IngestSettings
from .space import DiskSpace
from .telemetry import IngestMetrics


def create_app(
    settings: IngestSettings,
    *,
    metrics: Metrics | None = None,
    rag: RagRegistry | None = None,
    shutdown: Shutdown | None = None,
) -> Starlette:
    """The ingest API; its workers index into ``rag`` (its own registry when None) and stop
    on ``shutdown``'s clock (the process's, from the CLI; else one of its own)."""
    metrics = metrics or Metrics()
    ingest_metrics = IngestMetrics(metrics)
    bus_slot: Slot[Bus] = Slot("nats")
    redis_slot: Slot[Redis] = Slot("redis")
    ingest_slot: Slot[Ingest] = Slot("ingest service")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            resources = await stack.enter_async_context(open_resources(settings, metrics))
            bus, redis = resources.bus, resources.redis
            auth = TenantAuth(bus, ttl_s=settings.auth_cache_ttl_s)
            await auth.start()
            records = Records(redis)
            progress = Progress(records, bus, ingest_metrics)
            space = DiskSpace(settings.data_dir, reserve_bytes=settings.disk_reserve_bytes)
            admission = Admission(
                bus, records, ingest_metrics, chunk_bytes=settings.upload_chunk_bytes, space=space
            )
            if settings.run_workers:
                registry = (
                    rag
                    if rag is not None
                    else await stack.enter_async_context(_own_registry(settings, metrics))
                )
                clock = shutdown or Shutdown(settings.shutdown_grace_s)
                workers = Workers(
                    settings, bus, redis, records, progress, registry, ingest_metrics, clock
                )
                await workers.start()
                stack.push_async_callback(workers.stop)
                recovery = Recovery(
                    records,
                    admission,
                    after_s=settings.recovery_after_s,
                    every_s=settings.recovery_interval_s,
                )
                recovery.start()
                stack.push_async_callback(recovery.stop)
            bus_slot.set(bus)
            redis_slot.set(redis)
            ingest_slot.set(Ingest(settings, bus, redis, auth, records, progress, admission))
            try:
                yield
            finally:
                for slot in (ingest_slot, bus_slot, redis_slot):
                    slot.set(None)

    return build_app(
        service=settings.service_name,
        routes=routes(ingest_slot),
        lifespan=lifespan,
        metrics=metrics,
        readiness=dependency_checks(bus_slot, redis_slot),
        openapi=openapi().document(),
    )


@asynccontextmanager
async def _own_registry(settings: IngestSettings, metrics: Metrics) -> AsyncIterator[RagRegistry]:
    """A registry of this app's own (a split deployment); closed at shutdown."""
    from ragapi_common.rag.registry import open_registry

    registry = open_registry(settings, metrics=metrics)
    try:
        yield registry
    finally:
        await registry.close()

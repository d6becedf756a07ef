"""``create_app``: the query service as a Starlette app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from starlette.applications import Starlette

from ragapi_common.auth import TenantAuth
from ragapi_common.bus import Bus
from ragapi_common.console import console_routes
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import TenantEvent
from ragapi_common.metrics import Metrics
from ragapi_common.rag.api import RagRegistry
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.resources import open_resources
from ragapi_common.web import Slot, build_app, dependency_checks

from .limits import Admission
from .openapi_doc import openapi
from .routes import QueryRoutes
from .runner import QueryRunner
from .settings import QuerySettings

log = logging.getLogger(__name__)
_EVICTING = (subjects.EVENT_TENANT_UPDATED, subjects.EVENT_TENANT_DELETED)


def create_app(
    settings: QuerySettings, *, metrics: Metrics | None = None, rag: RagRegistry | None = None
) -> Starlette:
    """The query API. Given a ``rag`` registry it uses it and leaves closing it to its owner
    (``ragapi up`` shares one with ingest); without one it opens and closes its own."""
    metrics = metrics or Metrics()
    outcomes = Counter(
        "ragapi_queries_total",
        "Queries by kind (mode or graph) and outcome (ok, cancelled, or the error code).",
        ["kind", "outcome"],
        registry=metrics.registry,
    )
    in_flight = Gauge(
        "ragapi_queries_in_flight", "Queries holding an admission slot.", registry=metrics.registry
    )
    bus_slot: Slot[Bus] = Slot("nats")
    redis_slot: Slot[Redis] = Slot("redis")
    auth_slot: Slot[TenantAuth] = Slot("tenant auth")
    runner_slot: Slot[QueryRunner] = Slot("query runner")
    routes = QueryRoutes(
        auth_slot, runner_slot, ping_s=settings.sse_ping_s, body_limit=settings.max_query_body_bytes
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            resources = await stack.enter_async_context(open_resources(settings, metrics))
            bus, redis = resources.bus, resources.redis
            registry = rag
            if registry is None:
                registry = _own_registry(settings, metrics)
                stack.push_async_callback(registry.close)
            auth = TenantAuth(bus, ttl_s=settings.auth_cache_ttl_s)
            await auth.start()
            evictor = Evictor(registry)
            stack.push_async_callback(evictor.close)
            await bus.subscribe(subjects.EVENT_TENANT_ANY, TenantEvent, evictor.on_event)
            admission = Admission(
                per_tenant=settings.max_in_flight_per_tenant,
                total=settings.max_in_flight,
                retry_after_s=settings.busy_retry_after_s,
                gauge=in_flight,
            )
            runner = QueryRunner(
                settings,
                rag=registry,
                limiter=RateLimiter(redis),
                admission=admission,
                outcomes=outcomes,
            )
            bus_slot.set(bus)
            redis_slot.set(redis)
            auth_slot.set(auth)
            runner_slot.set(runner)
            try:
                yield
            finally:
                for slot in (runner_slot, auth_slot, bus_slot, redis_slot):
                    slot.set(None)

    return build_app(
        service=settings.service_name,
        routes=[*routes.routes(), *console_routes()],
        lifespan=lifespan,
        metrics=metrics,
        readiness=dependency_checks(bus_slot, redis_slot),
        openapi=openapi().document(),
    )


class Evictor:
    """Updated or deleted tenants lose their cached instance (rebuilt on next use).

    Eviction waits for the instance's in-flight queries, so it runs in its own
    task: the event subscription goes on with the next tenant's event at once.
    """

    def __init__(self, registry: RagRegistry) -> None:
        self.registry = registry
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_event(self, subject: str, event: TenantEvent) -> None:
        if subject in _EVICTING:
            task = asyncio.create_task(self._evict(event.tenant_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _evict(self, tenant_id: str) -> None:
        try:
            await self.registry.evict(tenant_id)
        except Exception:
            log.exception("evicting tenant %s failed", tenant_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _own_registry(settings: QuerySettings, metrics: Metrics) -> RagRegistry:
    """This process's own registry of tenant instances, from the LightRAG adapter."""
    from ragapi_common.rag.registry import open_registry  # heavy: only when owned

    return open_registry(settings, metrics=metrics)

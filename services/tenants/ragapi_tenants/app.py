"""``create_app``: the tenants service as a Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from starlette.applications import Starlette

from ragapi_common.bus import Bus, Endpoint
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import ResolveKeyRequest, TenantLookupRequest
from ragapi_common.metrics import Metrics
from ragapi_common.resources import open_resources
from ragapi_common.secrets import SecretBox
from ragapi_common.web import Slot, build_app, dependency_checks

from .config import ConfigCodec
from .routes import TenantRoutes, openapi
from .service import Tenants
from .settings import TenantsSettings
from .store import TenantStore

VERSION = "1.0.0"


def create_app(settings: TenantsSettings, *, metrics: Metrics | None = None) -> Starlette:
    """The tenants API on HTTP plus ``tenants.resolve`` / ``tenants.get`` on NATS."""
    metrics = metrics or Metrics()
    box = SecretBox(settings.secret_key.get_secret_value())
    bus_slot: Slot[Bus] = Slot("nats")
    redis_slot: Slot[Redis] = Slot("redis")
    tenants_slot: Slot[Tenants] = Slot("tenants service")
    routes = TenantRoutes(
        settings.admin_token.get_secret_value(),
        tenants_slot,
        body_limit=settings.max_tenant_body_bytes,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_resources(settings, metrics) as resources:
            tenants = Tenants(
                TenantStore(resources.redis, max_keys=settings.max_keys_per_tenant),
                ConfigCodec(box),
                resources.bus,
            )
            await resources.bus.serve(
                subjects.TENANTS_SERVICE,
                VERSION,
                [
                    Endpoint(
                        "resolve", subjects.TENANTS_RESOLVE, ResolveKeyRequest, tenants.resolve
                    ),
                    Endpoint("get", subjects.TENANTS_GET, TenantLookupRequest, tenants.lookup),
                ],
                description="tenant records and API keys",
            )
            bus_slot.set(resources.bus)
            redis_slot.set(resources.redis)
            tenants_slot.set(tenants)
            sweep = asyncio.create_task(tenants.sweep(settings.purge_sweep_interval_s))
            try:
                yield
            finally:
                sweep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweep
                for slot in (tenants_slot, bus_slot, redis_slot):
                    slot.set(None)

    return build_app(
        service=settings.service_name,
        routes=list(routes.routes()),
        lifespan=lifespan,
        metrics=metrics,
        readiness=dependency_checks(bus_slot, redis_slot),
        openapi=openapi().document(),
    )

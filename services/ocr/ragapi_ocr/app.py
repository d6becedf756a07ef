"""``create_app``: the OCR service as a Starlette app, with its job worker and NATS endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from redis.asyncio import Redis
from starlette.applications import Starlette

from ragapi_common.auth import TenantAuth
from ragapi_common.bus import Bus, Worker
from ragapi_common.metrics import Metrics
from ragapi_common.models.breaker import Breakers
from ragapi_common.models.metrics import model_metrics
from ragapi_common.models.transport import ProviderCaller, RetryPolicy
from ragapi_common.resources import open_resources
from ragapi_common.shutdown import Shutdown
from ragapi_common.tracing_clients import instrument_http
from ragapi_common.web import Slot, build_app, check_all

from .cpu import CpuPool, default_processes
from .engines.base import OcrEngine
from .engines.deepseek import DeepSeekEngine
from .engines.local import LocalEngine
from .metrics import OcrMetrics, ocr_metrics
from .pipeline import OcrPipeline
from .routes import OcrRoutes, openapi
from .service import OcrService
from .settings import OcrSettings
from .staging import Staging
from .tasks import Limits, LocalOptions
from .worker import OcrWorker

QUEUE_SAMPLE_S = 5.0


def build_engines(
    settings: OcrSettings,
    pool: CpuPool,
    http: httpx.AsyncClient,
    breakers: Breakers,
    metrics: Metrics,
) -> dict[str, OcrEngine]:
    """The local and deepseek engines, sharing one pool and one HTTP client."""
    s = settings
    limits = Limits(s.ocr_max_pages, s.ocr_max_image_pixels)
    options = LocalOptions(
        limits=limits,
        dpi=s.ocr_render_dpi,
        text_min_chars=s.ocr_text_layer_min_chars,
        text_max_image_share=s.ocr_text_layer_max_image_share,
        min_image_share=s.ocr_min_image_share,
        max_images=s.ocr_max_images_per_page,
    )
    ocr = ocr_metrics(metrics)
    local = LocalEngine(pool, options, page_timeout_s=s.ocr_page_timeout_s, metrics=ocr)
    caller = ProviderCaller(
        http,
        kind="ocr",
        breakers=breakers,
        policy=RetryPolicy(retries=s.deepseek_retries),
        metrics=model_metrics(metrics),
    )
    deepseek = DeepSeekEngine(
        pool,
        caller,
        local,
        limits=limits,
        dpi=s.deepseek_dpi,
        max_side=s.deepseek_max_side,
        max_tokens=s.deepseek_max_tokens,
        timeout_s=s.deepseek_timeout_s,
        page_timeout_s=s.ocr_page_timeout_s,
        tenant_concurrency=s.deepseek_tenant_concurrency,
        metrics=ocr,
    )
    return {"local": local, "deepseek": deepseek}


async def sample_queue(worker: Worker[Any], pool: CpuPool, metrics: OcrMetrics) -> None:
    """Keep the backlog and pool gauges fresh (scrapes stay instant)."""
    while True:
        with contextlib.suppress(Exception):
            metrics.queue_depth.set(await worker.backlog())
        metrics.busy.set(pool.busy)
        metrics.waiting.set(pool.queue.waiting)
        await asyncio.sleep(QUEUE_SAMPLE_S)


@dataclass
class Slots:
    """What handlers reach, set while the app runs."""

    bus: Slot[Bus] = field(default_factory=lambda: Slot("nats"))
    redis: Slot[Redis] = field(default_factory=lambda: Slot("redis"))
    auth: Slot[TenantAuth] = field(default_factory=lambda: Slot("tenant auth"))
    pipeline: Slot[OcrPipeline] = field(default_factory=lambda: Slot("ocr pipeline"))
    staging: Slot[Staging] = field(default_factory=lambda: Slot("staging"))

    def clear(self) -> None:
        for slot in (self.bus, self.redis, self.auth, self.pipeline, self.staging):
            slot.set(None)


async def open_pool(stack: AsyncExitStack, settings: OcrSettings) -> CpuPool:
    """The process pool until the stack closes, warming up in the background if so set.

    Without the warm-up no process exists until the first job: the executor
    spawns them on demand.
    """
    processes = settings.ocr_processes
    pool = CpuPool(
        default_processes() if processes is None else processes,
        det_max_side=settings.ocr_det_max_side,
        runtime=settings.ocr_runtime,
    )
    pool.start()
    stack.push_async_callback(pool.close)
    if settings.ocr_warm_up:
        warming = asyncio.create_task(pool.warm(), name="ocr-pool-warm-up")
        stack.callback(warming.cancel)
    return pool


async def start_work(
    stack: AsyncExitStack,
    settings: OcrSettings,
    bus: Bus,
    pipeline: OcrPipeline,
    staging: Staging,
    metrics: OcrMetrics,
    shutdown: Shutdown,
) -> None:
    """The ``ragapi.ocr.run`` endpoint, the job worker and its backlog sampler."""
    await OcrService(bus, pipeline, staging).start()
    worker = await bus.start_worker(OcrWorker(bus, pipeline, staging, settings).spec())
    stack.push_async_callback(worker.stop, shutdown)
    sampler = asyncio.create_task(sample_queue(worker, pipeline.pool, metrics))
    stack.callback(sampler.cancel)


def create_app(
    settings: OcrSettings, *, metrics: Metrics | None = None, shutdown: Shutdown | None = None
) -> Starlette:
    """``POST /v1/ocr`` on HTTP, ``ragapi.ocr.run`` on NATS and the OCR job worker, which
    stops on ``shutdown``'s clock (the process's, from the CLI; else one of its own)."""
    metrics = metrics or Metrics()
    slots = Slots()
    breakers = Breakers(
        failure_threshold=settings.deepseek_breaker_failures,
        reset_after_s=settings.deepseek_breaker_reset_s,
    )
    shared_model_metrics = model_metrics(metrics)
    if shared_model_metrics is not None:
        shared_model_metrics.watch(breakers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            resources = await stack.enter_async_context(open_resources(settings, metrics))
            bus, redis = resources.bus, resources.redis
            http = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))
            instrument_http(http)  # the OCR endpoint's calls, when tracing is on
            stack.push_async_callback(http.aclose)
            pool = await open_pool(stack, settings)
            staging = Staging(settings.data_dir / "tmp" / "ocr")
            await staging.prepare()
            stack.push_async_callback(staging.close)
            engines = build_engines(settings, pool, http, breakers, metrics)
            pipeline = OcrPipeline(settings, pool, engines, ocr_metrics(metrics))
            auth = TenantAuth(bus, ttl_s=settings.auth_cache_ttl_s)
            await auth.start()
            clock = shutdown or Shutdown(settings.shutdown_grace_s)
            await start_work(stack, settings, bus, pipeline, staging, ocr_metrics(metrics), clock)
            slots.bus.set(bus)
            slots.redis.set(redis)
            slots.auth.set(auth)
            slots.pipeline.set(pipeline)
            slots.staging.set(staging)
            stack.callback(slots.clear)
            yield

    async def readiness() -> dict[str, Any]:
        async def nats_ok() -> bool:
            return slots.bus.ready and slots.bus.value.connected

        async def redis_ok() -> bool:
            return slots.redis.ready and bool(await slots.redis.value.ping())

        checks = await check_all({"nats": nats_ok, "redis": redis_ok})
        # An open breaker degrades the deepseek engine only; local OCR still serves.
        checks["deepseek"] = {"ok": True, "breakers": breakers.states()}
        return checks

    routes = OcrRoutes(settings, slots.auth, slots.pipeline, slots.staging)
    return build_app(
        service=settings.service_name,
        routes=list(routes.routes()),
        lifespan=lifespan,
        metrics=metrics,
        readiness=readiness,
        openapi=openapi().document(),
    )

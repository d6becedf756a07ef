"""The model clients one process's registry shares, opened and closed together."""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport
from redis.asyncio import Redis

from ragapi_common.metrics import Metrics
from ragapi_common.models import Breakers, LlmClient, RemoteEmbedder, Reranker
from ragapi_common.models.local_embedder import LocalEmbedder
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.redis_pool import redis_client
from ragapi_common.settings import CommonSettings
from ragapi_common.tenancy import Effective
from ragapi_common.tracing_clients import instrument_http

from .build import Models, embedders


class ProcessModels:
    """One pooled HTTP client, Redis-backed limiter and breakers for every tenant.

    Remote embedders are per tenant (they carry its endpoint and limits) and
    cached by ``(tenant, endpoint, dim)``; the bundled embedder is one per process.
    """

    def __init__(self, settings: CommonSettings, metrics: Metrics | None = None) -> None:
        # An outer bound only: each client bounds its calls by the tenant's own timeout.
        # aiohttp's pool under httpx's API: httpcore's pool rescans every connection
        # (a syscall each) twice per request, which cost more CPU than the query itself.
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(3600.0, connect=10.0),
            transport=AiohttpTransport(limits=httpx.Limits(max_connections=512)),
        )
        instrument_http(self.http)  # the model calls' spans, when tracing is on
        # Blocking pool: a burst of LLM calls waits for a connection instead of failing.
        self.redis: Redis = redis_client(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout_s=settings.redis_timeout_s,
        )
        self.limiter = RateLimiter(self.redis)
        self.breakers = Breakers()
        # Its 62.5 MB table as a file mapping: only rows read are resident (decision 0502).
        self.local = LocalEmbedder(cache_dir=settings.data_dir / "cache")
        self._remote: dict[tuple[str, str, str, int], RemoteEmbedder] = {}
        self._metrics = metrics
        self.models = Models(
            llm=LlmClient(self.http, self.limiter, breakers=self.breakers, metrics=metrics),
            embedder_for=embedders(self.local, self._remote_embedder),
            reranker=Reranker(self.http, self.limiter, breakers=self.breakers, metrics=metrics),
            redis=self.redis,
        )

    def _remote_embedder(self, tenant_id: str, effective: Effective) -> RemoteEmbedder:
        endpoint = effective.embedding
        key = (tenant_id, endpoint.base_url, endpoint.model, effective.embedding_dim)
        if key not in self._remote:
            self._remote[key] = RemoteEmbedder(
                self.http, endpoint, effective.embedding_dim, self.limiter,
                tenant_id=tenant_id, limits=effective.llm_limits,
                breakers=self.breakers, metrics=self._metrics,
            )  # fmt: skip
        return self._remote[key]

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.redis.aclose()

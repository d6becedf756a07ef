"""A registry on a temporary data dir, the fake provider as LLM, the bundled embedder."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.contracts.tenant import TenantConfig
from ragapi_common.models import LlmClient, RemoteEmbedder, Reranker, RetryPolicy
from ragapi_common.models.local_embedder import LocalEmbedder
from ragapi_common.rag.build import Models, embedders
from ragapi_common.rag.registry import Registry
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.settings import CommonSettings
from ragapi_common.tenancy import Effective
from tests.support.fake_provider import FakeProvider

FAST_RETRIES = RetryPolicy(retries=3, base_delay_s=0.01, max_delay_s=0.05)
_ids = itertools.count(1)

TenantFor = Callable[..., TenantContext]


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """One bundled model for the whole session (it takes seconds to load)."""
    return LocalEmbedder()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64)) as client:
        yield client


@pytest.fixture
def settings(data_dir: Path, redis_url: str) -> CommonSettings:
    return CommonSettings(data_dir=data_dir, redis_url=redis_url)


@pytest.fixture
def models(http: httpx.AsyncClient, redis: Redis, local_embedder: LocalEmbedder) -> Models:
    limiter = RateLimiter(redis)

    def remote(tenant_id: str, effective: Effective) -> RemoteEmbedder:
        return RemoteEmbedder(
            http, effective.embedding, effective.embedding_dim, limiter,
            tenant_id=tenant_id, limits=effective.llm_limits, policy=FAST_RETRIES,
        )  # fmt: skip

    return Models(
        llm=LlmClient(http, limiter, policy=FAST_RETRIES),
        embedder_for=embedders(local_embedder, remote),
        reranker=Reranker(http, limiter, policy=FAST_RETRIES),
        redis=redis,
    )


@pytest.fixture
async def registry(settings: CommonSettings, models: Models) -> AsyncIterator[Registry]:
    opened = Registry(settings, models, max_instances=8)
    yield opened
    await opened.close()


@pytest.fixture
def tenant_for(fake: FakeProvider) -> TenantFor:
    """``tenant_for(llm=True, **config)``: a fresh tenant id with the fake as its LLM."""

    def make(llm: bool = True, tenant_id: str | None = None, **config: Any) -> TenantContext:
        if llm:
            config.setdefault("llm", {"base_url": fake.base_url, "model": "fake-llm"})
        tenant_id = tenant_id or f"rag-{next(_ids)}"
        return TenantContext(
            tenant_id=tenant_id, name=tenant_id, config=TenantConfig.model_validate(config)
        )

    return make


def staged_files(root: Path) -> list[Path]:
    """Files or directories of a ragapi document (``"name (doc-id)..."``) under ``root``."""
    return [path for path in root.rglob("*") if "(doc-" in path.name]

"""Reranker against the fake provider's Jina/Cohere-style /v1/rerank."""

from __future__ import annotations

import httpx
import pytest

from ragapi_common.errors import RateLimited
from ragapi_common.models import Reranker
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint
from tests.models.conftest import FAST_RETRIES
from tests.support.fake_provider import RERANK, FakeProvider

DOCUMENTS = [
    "Quarterly revenue grew by ten percent.",
    "The red fox lives in the forest near the river.",
    "Foxes are red and live in forests.",
]


@pytest.fixture
def rerank_endpoint(fake: FakeProvider) -> Endpoint:
    return Endpoint(base_url=fake.base_url, model="fake-rerank", api_key="")


async def test_rerank_orders_documents_by_relevance(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    rerank_endpoint: Endpoint,
    tenant: str,
) -> None:
    reranker = Reranker(http, limiter, policy=FAST_RETRIES)
    ranked = await reranker.rerank(tenant, rerank_endpoint, "red fox forest river", DOCUMENTS, 2)
    assert [index for index, _ in ranked] == [1, 2]
    assert ranked[0][1] >= ranked[1][1]
    [request] = fake.requests_to(RERANK)
    assert request["json"] == {
        "model": "fake-rerank",
        "query": "red fox forest river",
        "documents": DOCUMENTS,
        "top_n": 2,
    }


async def test_rerank_retries_transient_failures(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    rerank_endpoint: Endpoint,
    tenant: str,
) -> None:
    fake.configure(fail_next=2, fail_statuses=(502, 429))
    reranker = Reranker(http, limiter, policy=FAST_RETRIES)
    assert len(await reranker.rerank(tenant, rerank_endpoint, "fox", DOCUMENTS, 3)) == 3
    assert len(fake.requests_to(RERANK)) == 3


async def test_rerank_has_its_own_budget(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    rerank_endpoint: Endpoint,
    tenant: str,
) -> None:
    reranker = Reranker(http, limiter, policy=FAST_RETRIES, requests_per_minute=1, timeout_s=2)
    await reranker.rerank(tenant, rerank_endpoint, "fox", DOCUMENTS, 1)
    with pytest.raises(RateLimited):
        await reranker.rerank(tenant, rerank_endpoint, "fox", DOCUMENTS, 1)
    assert await limiter.redis.exists(f"ragapi:rl:{tenant}:rerank:requests")
    assert not await limiter.redis.exists(f"ragapi:rl:{tenant}:llm:requests")


async def test_rerank_of_nothing_asks_nothing(
    http: httpx.AsyncClient, fake: FakeProvider, rerank_endpoint: Endpoint, tenant: str
) -> None:
    reranker = Reranker(http, None, policy=FAST_RETRIES)
    assert await reranker.rerank(tenant, rerank_endpoint, "q", [], 3) == []
    assert fake.requests == []

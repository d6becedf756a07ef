"""A fake provider, a pooled httpx client and the Redis limiter for the model-client tests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from ragapi_common.models import RetryPolicy
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint, LlmLimits
from tests.support.fake_provider import FakeProvider

#: Retries as the product does them, with waits short enough for a test.
FAST_RETRIES = RetryPolicy(retries=4, base_delay_s=0.01, max_delay_s=0.05)
GENEROUS = LlmLimits(
    max_concurrency=8, requests_per_minute=60_000, tokens_per_minute=10_000_000, timeout_s=10
)
_tenants = itertools.count(1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=32)) as client:
        yield client


@pytest.fixture
def limiter(redis: Redis) -> RateLimiter:
    return RateLimiter(redis)


@pytest.fixture
def endpoint(fake: FakeProvider) -> Endpoint:
    return Endpoint(base_url=fake.base_url, model="fake-llm", api_key="sk-test")


@pytest.fixture
def tenant() -> str:
    """A tenant id of its own per test, so Redis budgets never leak between tests."""
    return f"models-{next(_tenants)}"

"""Per-minute budgets live in Redis: two clients (two processes' worth) share one budget."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from ragapi_common.errors import RateLimited
from ragapi_common.models import LlmClient
from ragapi_common.models.gate import estimate_tokens
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint
from tests.models.conftest import FAST_RETRIES, GENEROUS
from tests.support.fake_provider import CHAT, FakeProvider

# 60 000 tokens/min: 1 ms per token, a burst of 6 000 tokens (the limiter's default tenth).
TOKEN_LIMITED = dataclasses.replace(GENEROUS, tokens_per_minute=60_000)
BIG = [{"role": "user", "content": "x" * 24_000}]  # ~6 000 tokens: the whole burst
SMALL = [{"role": "user", "content": "y" * 4_000}]  # ~1 000 tokens: 1 s of budget


@pytest.fixture
async def second_redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_tokens_per_minute_are_shared_between_two_clients(
    http: httpx.AsyncClient,
    redis: Redis,
    second_redis: Redis,
    fake: FakeProvider,
    endpoint: Endpoint,
    tenant: str,
) -> None:
    fake.configure(reply="ok")
    first = LlmClient(http, RateLimiter(redis), policy=FAST_RETRIES)
    second = LlmClient(http, RateLimiter(second_redis), policy=FAST_RETRIES)

    await first.complete(tenant, endpoint, TOKEN_LIMITED, BIG)
    await second.complete(tenant, endpoint, TOKEN_LIMITED, SMALL)

    big, small = fake.requests_to(CHAT)
    # The second client waited for the ~1 000 tokens the first one had spent.
    assert small["time"] - big["time"] >= 0.9


async def test_a_wait_past_the_deadline_is_a_429_at_once(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    endpoint: Endpoint,
    tenant: str,
) -> None:
    fake.configure(reply="ok")
    llm = LlmClient(http, limiter, policy=FAST_RETRIES)
    # 1 request per minute: the second would have to wait ~60 s, the timeout is 5 s.
    limits = dataclasses.replace(GENEROUS, requests_per_minute=1, timeout_s=5)
    await llm.complete(tenant, endpoint, limits, SMALL)
    with pytest.raises(RateLimited) as caught:
        await llm.complete(tenant, endpoint, limits, SMALL)
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 5
    assert len(fake.requests_to(CHAT)) == 1


def test_token_estimate_counts_cjk_characters_as_tokens() -> None:
    assert estimate_tokens(["x" * 400]) == 100
    assert estimate_tokens(["汉" * 100]) == 100  # not 25: cl100k spends ~1.2 per character
    assert estimate_tokens(["ab" * 2, "汉字"]) == 1 + 2

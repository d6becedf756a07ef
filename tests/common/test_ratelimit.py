"""The Redis GCRA limiter is shared: two clients spend one budget."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from ragapi_common.errors import RateLimited
from ragapi_common.ratelimit import RateLimiter


async def test_two_clients_share_one_budget(redis_url: str) -> None:
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        a, b = RateLimiter(first), RateLimiter(second)
        key = f"q:{uuid.uuid4().hex}"
        outcomes = []
        for i in range(10):
            limiter = a if i % 2 else b
            decision = await limiter.take(key, per_minute=60, burst=4)
            outcomes.append(decision.allowed)
        assert outcomes.count(True) == 4
        assert outcomes[:4] == [True] * 4
        with pytest.raises(RateLimited) as info:
            await a.enforce(key, per_minute=60, burst=4)
        # One unit per second: the next one is due within about a second.
        assert 0 < (info.value.retry_after or 0) <= 1.01
        assert info.value.headers()["Retry-After"] == "1"
    finally:
        await first.aclose()
        await second.aclose()


async def test_costs_are_charged_in_tokens(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    key = f"tokens:{uuid.uuid4().hex}"
    assert (await limiter.take(key, per_minute=6000, burst=1000, cost=900)).allowed
    refused = await limiter.take(key, per_minute=6000, burst=1000, cost=900)
    assert not refused.allowed
    # 800 more tokens than the bucket holds, at 100 tokens/s: about 8 s.
    assert 7.5 < refused.retry_after_s <= 8.1

"""The Redis GCRA limiter is shared: two clients spend one budget."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from ragapi_common.errors import RateLimited
from ragapi_common.ratelimit import Bucket, RateLimiter


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


async def test_several_buckets_are_charged_together_or_not_at_all(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    run = uuid.uuid4().hex
    # One request unit per 10 s refills: none during the test, however slow the box.
    requests = Bucket(f"{run}:requests", per_minute=6, burst=100)
    tokens = Bucket(f"{run}:tokens", per_minute=6000, cost=900, burst=1000)
    assert (await limiter.take_all([requests, tokens])).allowed
    # The token bucket refuses: the request bucket is not charged either.
    refused = await limiter.take_all([requests, tokens])
    assert not refused.allowed
    assert 7.5 < refused.retry_after_s <= 8.1
    spent = [(await limiter.take(requests.key, per_minute=6, burst=100)).allowed for _ in range(99)]
    # 100 in the burst: one by the first call, 99 left, none by the refused call.
    assert spent == [True] * 99
    assert not (await limiter.take(requests.key, per_minute=6, burst=100)).allowed

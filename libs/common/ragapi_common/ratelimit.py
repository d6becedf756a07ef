"""Rate limits shared by every replica through Redis: GCRA in one atomic Lua script.

A limit is ``rate`` units per minute with a ``burst``; a request costs 1 unit,
an LLM call costs its tokens. Redis's own clock is used, so replicas with
skewed clocks still agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from ragapi_common.errors import RateLimited

# Every bucket of one call is checked first and charged only if all allow (one round trip
# for a model call's requests and tokens). On a Redis Cluster the keys of one call would
# need one hash slot; ragapi uses a single Redis.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[3 * i - 2])
  local tolerance = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat + emission * cost
  local allow_at = tats[i] - tolerance
  if allow_at - now > wait then wait = allow_at - now end
end
if wait > 0 then
  return {0, tostring(wait)}
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(tats[i]), 'PX', math.ceil(tats[i] - now) + 1000)
end
return {1, '0'}
"""


@dataclass(frozen=True)
class Bucket:
    """``cost`` units of ``key``'s budget of ``per_minute`` (``burst``: per_minute / 10)."""

    key: str
    per_minute: float
    cost: float = 1.0
    burst: float | None = None

    def args(self) -> tuple[float, float, float]:
        """``(emission_ms, tolerance_ms, cost)`` for the script."""
        burst = max(1.0, self.burst if self.burst is not None else self.per_minute / 10)
        emission_ms = 60_000.0 / self.per_minute
        # A cost above the burst could never pass; charge it as a full burst instead.
        return emission_ms, emission_ms * burst, min(self.cost, burst)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float


class RateLimiter:
    """GCRA buckets under ``ragapi:rl:<key>`` in Redis."""

    def __init__(self, redis: Redis, prefix: str = "ragapi:rl:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_GCRA)

    async def take(
        self, key: str, *, per_minute: float, burst: float | None = None, cost: float = 1.0
    ) -> Decision:
        """Spend ``cost`` units of ``key``'s budget if it allows, else say when it will."""
        return await self.take_all([Bucket(key, per_minute, cost, burst)])

    async def take_all(self, buckets: Sequence[Bucket]) -> Decision:
        """Spend every bucket's cost if all allow (one round trip), else the longest wait."""
        args = [value for bucket in buckets for value in bucket.args()]
        allowed, wait_ms = await self._script(
            keys=[self.prefix + bucket.key for bucket in buckets], args=args
        )
        return Decision(bool(int(allowed)), float(wait_ms) / 1000.0)

    async def enforce(
        self, key: str, *, per_minute: float, burst: float | None = None, cost: float = 1.0
    ) -> None:
        """:meth:`take`, raising 429 with ``Retry-After`` when over the limit."""
        decision = await self.take(key, per_minute=per_minute, burst=burst, cost=cost)
        if not decision.allowed:
            raise RateLimited(
                f"rate limit of {per_minute:g}/min reached for {key.split(':', 1)[0]}",
                retry_after=decision.retry_after_s,
            )

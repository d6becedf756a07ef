"""Rate limits shared by every replica through Redis: GCRA in one atomic Lua script.

A limit is ``rate`` units per minute with a ``burst``; a request costs 1 unit,
an LLM call costs its tokens. Redis's own clock is used, so replicas with
skewed clocks still agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from ragapi_common.errors import RateLimited

_GCRA = """
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission * cost
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, tostring(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, '0'}
"""


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
        burst = max(1.0, burst if burst is not None else per_minute / 10)
        emission_ms = 60_000.0 / per_minute
        # A cost above the burst could never pass; charge it as a full burst instead.
        cost = min(cost, burst)
        tolerance_ms = emission_ms * burst
        allowed, wait_ms = await self._script(
            keys=[self.prefix + key], args=[emission_ms, tolerance_ms, cost]
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

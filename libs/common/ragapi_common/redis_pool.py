"""One ``redis.asyncio`` pool per process: opened and pinged at start-up, closed at shutdown."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.exceptions import RedisError

from ragapi_common.errors import DependencyUnavailable
from ragapi_common.metrics import Metrics


async def open_redis(url: str, *, max_connections: int, metrics: Metrics | None = None) -> Redis:
    """A pooled client, or DependencyUnavailable when Redis does not answer a ping."""
    # Blocking: a burst beyond ``max_connections`` waits for a free connection (up to
    # ``timeout``) instead of failing at once with "Too many connections".
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=10,
        decode_responses=False,
        health_check_interval=30,
    )
    client = Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise DependencyUnavailable(f"Redis at {url} is unreachable: {exc}") from exc
    if metrics is not None:
        metrics.watch_pool("redis", lambda: _pool_usage(pool))
    return client


def _pool_usage(pool: ConnectionPool) -> tuple[int, int]:
    in_use = len(pool._in_use_connections)
    return in_use, in_use + len(pool._available_connections)

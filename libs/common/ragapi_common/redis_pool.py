"""One ``redis.asyncio`` pool per process: opened and pinged at start-up, closed at shutdown.

:data:`OUTAGES` are redis-py's errors that mean the server is down or unreachable (not
that a command was wrong): :mod:`ragapi_common.outages` maps them to a 503.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ragapi_common.errors import DependencyUnavailable
from ragapi_common.metrics import Metrics
from ragapi_common.tracing_clients import instrument_redis

#: Refused, reset, closed, still loading its data, no pooled connection free in time, or no
#: answer within the socket timeout.
OUTAGES: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)


#: Redis's errors that may mean it refuses writes (told apart by :func:`refuses_writes`).
WRITE_ERRORS: tuple[type[Exception], ...] = (ResponseError,)


def refuses_writes(error: BaseException) -> bool:
    """Whether Redis refused a write because it cannot persist it (``MISCONF``: its
    append-only file or snapshot failed, a full disk); a script relays the same error."""
    return isinstance(error, ResponseError) and "MISCONF " in str(error)


def redis_client(url: str, *, max_connections: int, timeout_s: float) -> Redis:
    """A pooled client whose connects and commands give up after ``timeout_s``, so a stuck
    Redis costs a caller that long at most (a dead one is refused at once). Pooled
    connections a restart closed are noticed and replaced when taken from the pool."""
    # Blocking: a burst beyond ``max_connections`` waits for a free connection (up to
    # ``timeout``) instead of failing at once with "Too many connections".
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=10,
        decode_responses=False,
        health_check_interval=30,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
    )
    client = Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
    instrument_redis(client)
    return client


async def open_redis(
    url: str, *, max_connections: int, timeout_s: float, metrics: Metrics | None = None
) -> Redis:
    """:func:`redis_client`, pinged: DependencyUnavailable when Redis does not answer."""
    client = redis_client(url, max_connections=max_connections, timeout_s=timeout_s)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise DependencyUnavailable(f"Redis at {url} is unreachable: {exc}") from exc
    if metrics is not None:
        pool = client.connection_pool
        metrics.watch_pool("redis", lambda: _pool_usage(pool))
    return client


def _pool_usage(pool: ConnectionPool) -> tuple[int, int]:
    in_use = len(pool._in_use_connections)
    return in_use, in_use + len(pool._available_connections)

"""What every service's lifespan opens first: logging, Redis, NATS and the loop-lag monitor.

``open_resources`` is entered first in a lifespan, so what the service starts
on top of it (workers, endpoints, subscriptions) stops before these close:
workers finish their jobs, then NATS drains, then the Redis pool closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from ragapi_common.bus import Bus
from ragapi_common.logs import configure_logging
from ragapi_common.metrics import LoopLagMonitor, Metrics
from ragapi_common.outages import unavailable
from ragapi_common.redis_pool import open_redis
from ragapi_common.settings import CommonSettings


@dataclass(frozen=True)
class Resources:
    """The process's connections, open while the ``open_resources`` block runs."""

    redis: Redis
    bus: Bus


@asynccontextmanager
async def open_resources(settings: CommonSettings, metrics: Metrics) -> AsyncIterator[Resources]:
    """Logging under the service's name, Redis (pinged: DependencyUnavailable if it does not
    answer), NATS (connected, streams declared) and the loop-lag monitor; on exit the monitor
    stops, NATS drains, then Redis closes."""
    configure_logging(settings.service_name, settings.log_level, json_lines=settings.log_json)
    async with AsyncExitStack() as stack:
        redis = await open_redis(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout_s=settings.redis_timeout_s,
            metrics=metrics,
        )
        stack.push_async_callback(redis.aclose)
        bus = await Bus.connect(
            settings.nats_url,
            name=settings.service_name,
            user=settings.nats_user,
            password=settings.nats_password.get_secret_value(),
            timeout_s=settings.nats_timeout_s,
            unavailable=unavailable,
            replicas=settings.nats_replicas,
        )
        stack.push_async_callback(bus.close)
        lag = LoopLagMonitor(metrics, settings.loop_lag_interval_s)
        lag.start()
        stack.push_async_callback(lag.stop)
        yield Resources(redis, bus)

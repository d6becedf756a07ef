"""Prometheus metrics of one process: HTTP, event-loop lag, pools, and service extras.

One :class:`Metrics` per process (``ragapi up`` hands the same one to all four
apps, so their families never clash); services add their own collectors to
:attr:`Metrics.registry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "LoopLagMonitor", "Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    """The collectors every service shares."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_latency = Histogram(
            "ragapi_http_request_duration_seconds",
            "HTTP request latency by route and status.",
            ["service", "method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_flight = Gauge(
            "ragapi_http_requests_in_flight", "HTTP requests being served.", ["service"], registry=r
        )
        self.loop_lag = Gauge(
            "ragapi_event_loop_lag_seconds", "Last measured event-loop lag.", registry=r
        )
        self.asyncio_tasks = Gauge(
            "ragapi_asyncio_tasks", "Tasks alive on the event loop (last sample).", registry=r
        )
        self.loop_lag_histogram = Histogram(
            "ragapi_event_loop_lag_distribution_seconds",
            "Event-loop lag samples.",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.pool_in_use = Gauge(
            "ragapi_pool_connections_in_use", "Connections checked out.", ["pool"], registry=r
        )
        self.pool_size = Gauge(
            "ragapi_pool_connections", "Connections open (idle and in use).", ["pool"], registry=r
        )
        self.jobs = Counter(
            "ragapi_jobs_total", "Jobs settled by outcome.", ["queue", "outcome"], registry=r
        )
        self._pool_probes: dict[str, Callable[[], tuple[int, int]]] = {}

    def watch_pool(self, name: str, probe: Callable[[], tuple[int, int]]) -> None:
        """Sample ``probe() -> (in_use, open)`` whenever metrics are scraped."""
        self._pool_probes[name] = probe

    def render(self) -> bytes:
        for name, probe in self._pool_probes.items():
            in_use, total = probe()
            self.pool_in_use.labels(name).set(in_use)
            self.pool_size.labels(name).set(total)
        return generate_latest(self.registry)


class LoopLagMonitor:
    """Sleeps ``interval`` on the loop and records how late it wakes up."""

    def __init__(self, metrics: Metrics, interval: float = 0.25) -> None:
        self.metrics = metrics
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - started - self.interval)
            self.metrics.loop_lag.set(lag)
            self.metrics.loop_lag_histogram.observe(lag)
            self.metrics.asyncio_tasks.set(len(asyncio.all_tasks()))

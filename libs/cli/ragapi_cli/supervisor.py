"""An embedded server that dies is started again: the same command line, port and data.

``ragapi up`` owns its NATS and Redis. When one exits while ragapi runs (a crash, a
``kill -9``, the OOM killer), :class:`Supervisor` logs it, waits (longer each time it
dies again soon after a restart), runs the child's own command line again and counts
the restart in ``ragapi_embedded_restarts_total{server}``. The services need nothing:
nats-py reconnects by itself and the Redis pool replaces its closed connections.
Shutdown stops the supervisor before the server, so nothing is restarted then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)


def restart_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "ragapi_embedded_restarts_total",
        "Times ragapi up started one of its embedded servers again after it died.",
        ["server"],
        registry=registry,
    )


class Child(Protocol):
    """What is supervised: an embedded server (``ChildServer``) or a ``ragapi up`` worker."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def process(self) -> asyncio.subprocess.Process | None: ...

    async def start(self, wait_s: float) -> None: ...


class Supervisor:
    """Watches one :class:`Child` from :meth:`start` until :meth:`stop`."""

    def __init__(
        self,
        child: Child,
        restarts: Counter,
        *,
        first_delay_s: float = 0.5,
        max_delay_s: float = 10.0,
        healthy_after_s: float = 30.0,
        ready_wait_s: float = 20.0,
    ) -> None:
        self.child = child
        self.server = child.name.removesuffix("-server")  # "nats", "redis", "worker-1"
        self.restarts = restarts.labels(self.server)  # shown as 0 until the first restart
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.healthy_after_s = healthy_after_s
        self.ready_wait_s = ready_wait_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name=f"supervise {self.child.name}")

    async def stop(self) -> None:
        """Stop watching (a restart under way is stopped too); the child keeps running."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.first_delay_s
        while True:
            up_since = loop.time()
            process = self.child.process
            code = await process.wait() if process is not None else None
            if loop.time() - up_since >= self.healthy_after_s:
                delay = self.first_delay_s  # it had been fine for a while: not a crash loop
            log.error(
                "%s exited with %s; starting it again in %.1f s (same port and data)",
                self.child.name, code, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay_s)
            self.restarts.inc()
            try:
                await self.child.start(self.ready_wait_s)
            except Exception as exc:  # the end of its log, or why it could not be run
                log.error("%s did not come back: %s", self.child.name, exc)
                continue
            log.warning("%s is running again at %s", self.child.name, self.child.url)


@contextlib.asynccontextmanager
async def supervised(
    child: Child, restarts: Counter, *, ready_wait_s: float = 20.0
) -> AsyncIterator[Supervisor]:
    """Restart ``child`` whenever it dies while the block runs."""
    supervisor = Supervisor(child, restarts, ready_wait_s=ready_wait_s)
    supervisor.start()
    try:
        yield supervisor
    finally:
        await supervisor.stop()

"""The process's shutdown clock: one grace period from the first signal to the exit.

``RAGAPI_SHUTDOWN_GRACE_S`` bounds the whole shutdown. The first SIGTERM/SIGINT
begins it: requests and jobs in flight get the first half of the grace period
to finish (:meth:`Shutdown.finish_within`); what has not finished then is
cancelled and handed back (by three quarters of it); the last quarter is for
closing connections and storages. A second signal hurries it: nothing waits
any more.

The CLI owns one and hands it to the services it runs; a service started
without one makes its own, which begins when its lifespan ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=asyncio.Future[Any])

#: The part of the grace period in-flight work may use to finish.
WORK_SHARE = 0.5
#: By then cancelled jobs have handed themselves back; the rest is for closing.
HAND_BACK_SHARE = 0.75


class Shutdown:
    """Begun by the first signal, hurried by the second; read by whatever stops."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._began: float | None = None
        self._hurried = asyncio.Event()
        self._beginning = asyncio.Event()

    def begin(self) -> None:
        """Start the clock (idempotent: the first call counts)."""
        if self._began is None:
            self._began = time.monotonic()
            self._beginning.set()

    def hurry(self) -> None:
        """A second signal: every wait of the shutdown ends now."""
        self.begin()
        self._hurried.set()

    @property
    def begun(self) -> bool:
        return self._began is not None

    @property
    def hurried(self) -> bool:
        return self._hurried.is_set()

    async def wait_begun(self) -> None:
        await self._beginning.wait()

    def left(self, share: float = 1.0) -> float:
        """Seconds until ``share`` of the grace period has passed (0 once hurried)."""
        if self.hurried:
            return 0.0
        began = self._began if self._began is not None else time.monotonic()
        return max(0.0, began + self.grace_s * share - time.monotonic())

    async def finish_within(self, tasks: Iterable[F]) -> set[F]:
        """Wait for ``tasks`` during the work share of the grace period; the unfinished ones."""
        self.begin()
        tasks = set(tasks)
        hurried = asyncio.ensure_future(self._hurried.wait())
        try:
            while (left := self.left(WORK_SHARE)) > 0:
                waiting: set[asyncio.Future[Any]] = {task for task in tasks if not task.done()}
                if not waiting:
                    break
                waiting.add(hurried)
                await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurried.cancel()
        return {task for task in tasks if not task.done()}

"""A flush that runs at most once per interval, however many changes ask for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class DebouncedFlush:
    """Calls ``flush`` ``interval_s`` after the first unflushed change.

    LightRAG's JSON storages rewrite their whole file on each flush, under the
    storage's lock: flushing the LLM cache after every query made concurrent
    queries queue behind one another (p99 44 s at 32 clients). One flush per
    interval keeps the cache on disk at the same cost as a single query.
    """

    def __init__(self, flush: Callable[[], Awaitable[None]], interval_s: float) -> None:
        self._flush = flush
        self._interval_s = interval_s
        self._dirty = False
        self._task: asyncio.Task[None] | None = None

    def changed(self) -> None:
        """Something to write: schedule a flush unless one is already due."""
        self._dirty = True
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="debounced-flush")

    async def _run(self) -> None:
        try:
            while self._dirty:
                await asyncio.sleep(self._interval_s)
                self._dirty = False
                try:
                    await self._flush()
                except Exception:
                    self._dirty = True
                    log.exception("flushing a storage failed; retrying after the interval")
        finally:
            self._task = None

    async def close(self, *, flush: bool = True) -> None:
        """Stop the schedule and, with ``flush``, write what is pending now."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if flush and self._dirty:
            self._dirty = False
            await self._flush()

"""Asyncio debug mode over the query tests: a callback that holds the loop > 100 ms fails.

asyncio (debug mode, ``slow_callback_duration``) reports such callbacks as
``Executing <...> took 0.123 seconds``. Two corrections make the report about
our code rather than the machine or the instrument:

- asyncio times callbacks on the wall clock, so on a shared 2-core machine a
  callback that was merely descheduled looks slow; the guard also times each
  callback on the loop thread's CPU clock;
- debug mode itself records a traceback for every future, task and handle
  (``traceback.extract_stack``: milliseconds each with LightRAG's long
  functions); that bookkeeping is measured and left out.

A report fails the test when the callback's own CPU time passes the threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any

SLOW_CALLBACK_S = 0.1


class SlowCallbacks(logging.Handler):
    """Collects asyncio's slow-callback reports whose own CPU time passed the threshold."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []
        self.excused: list[str] = []
        #: Own CPU seconds of the callback that ran last (asyncio logs right after it).
        self.last_cpu_s = 0.0
        #: CPU seconds spent so far recording debug-mode tracebacks, or paused.
        self.uncounted_s = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Executing "):
            return
        report = f"{message} (own cpu {self.last_cpu_s:.3f} s)"
        if self.last_cpu_s > SLOW_CALLBACK_S:
            self.reports.append(report)
        else:
            self.excused.append(report)


class LoopGuard:
    """Debug mode on the running loop plus per-callback CPU timing; undone on exit."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.handler = SlowCallbacks()
        self._logger = logging.getLogger("asyncio")
        self._saved = (loop.get_debug(), loop.slow_callback_duration, self._logger.level)
        self._run = asyncio.events.Handle._run
        self._extract = traceback.StackSummary.__dict__["_extract_from_extended_frame_gen"]
        self._gc_started = 0.0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self.handler.uncounted_s += time.thread_time() - self._gc_started

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Leave a stretch out of the count (a service's start-up, not its serving)."""
        started = time.thread_time()
        try:
            yield
        finally:
            self.handler.uncounted_s += time.thread_time() - started

    def __enter__(self) -> SlowCallbacks:
        handler, run, extract = self.handler, self._run, self._extract.__func__

        def timed_run(handle: Any) -> None:
            uncounted, started = handler.uncounted_s, time.thread_time()
            try:
                run(handle)
            finally:
                spent = time.thread_time() - started
                handler.last_cpu_s = spent - (handler.uncounted_s - uncounted)

        def timed_extract(cls: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return extract(cls, *args, **kwargs)
            finally:
                handler.uncounted_s += time.thread_time() - started

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        traceback.StackSummary._extract_from_extended_frame_gen = classmethod(timed_extract)  # type: ignore[attr-defined]
        gc.callbacks.append(self._on_gc)
        self.loop.set_debug(True)
        self.loop.slow_callback_duration = SLOW_CALLBACK_S
        self._logger.setLevel(logging.WARNING)
        self._logger.addHandler(self.handler)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        debug, slow, level = self._saved
        self._logger.removeHandler(self.handler)
        self._logger.setLevel(level)
        self.loop.slow_callback_duration = slow
        self.loop.set_debug(debug)
        gc.callbacks.remove(self._on_gc)
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]
        traceback.StackSummary._extract_from_extended_frame_gen = self._extract  # type: ignore[attr-defined]

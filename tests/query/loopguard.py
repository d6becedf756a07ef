"""Asyncio debug mode over the query tests: a callback that holds the loop > 100 ms fails.

asyncio reports such callbacks as ``Executing <...> took 0.123 seconds`` on its
logger; the guard collects those records while a test runs.
"""

from __future__ import annotations

import asyncio
import logging

SLOW_CALLBACK_S = 0.1


class SlowCallbacks(logging.Handler):
    """Collects asyncio's slow-callback reports."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing "):
            self.reports.append(message)


class LoopGuard:
    """Turns debug mode on for the running loop and restores it afterwards."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.handler = SlowCallbacks()
        self._logger = logging.getLogger("asyncio")
        self._saved = (loop.get_debug(), loop.slow_callback_duration, self._logger.level)

    def __enter__(self) -> SlowCallbacks:
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

"""The process's one event loop: uvloop when it is installed, asyncio's own otherwise.

uvloop's transports write and read in C: on the query path, where most of a
request is socket writes (the response, Redis, the LLM request) and loop
bookkeeping, it took a fifth off the CPU per query (decision 0505).
``RAGAPI_EVENT_LOOP=asyncio`` keeps the standard loop (to debug with asyncio's
debug mode, or to compare).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
EventLoop = Literal["uvloop", "asyncio"]


def loop_factory(choice: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or ``None`` for asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], choice: EventLoop = "uvloop") -> T:
    """``asyncio.run`` on the chosen loop: the console script's only entry into async code."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)

"""A weighted fair queue of tenants in front of the pool's slots.

Start-time fair queuing (Goyal, Vin and Cheng, 1996): a job's start tag is
``max(now, the end tag of its tenant's previous job)``, its end tag the start
plus ``1 / weight``; a free slot goes to the smallest start tag (first come on
a tie), and ``now`` becomes that job's start tag. A tenant with 500 pages
queued holds start tags ``now .. now+499``; a page of another tenant arriving
while they wait is tagged ``now`` and is served next, so it waits at most for
one running page to finish. While several tenants wait, each gets the slots in
proportion to its weight.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(order=True)
class _Waiter:
    tag: float
    seq: int
    tenant: str = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


class FairQueue:
    """At most ``slots`` holders at once; waiters are served by weighted fair tags."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = slots
        self._now = 0.0
        self._last: dict[str, float] = {}
        self._heap: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._heap if not waiter.granted.done())

    @asynccontextmanager
    async def turn(self, tenant: str, weight: float = 1.0) -> AsyncIterator[None]:
        """Hold one slot for ``tenant`` while the block runs."""
        await self._acquire(tenant, 1.0 / weight)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, tenant: str, length: float) -> None:
        tag = max(self._now, self._last.get(tenant, 0.0))
        self._last[tenant] = tag + length
        if self._free > 0 and not self._heap:
            self._free -= 1
            self._now = tag
            return
        waiter = _Waiter(tag, next(self._seq), tenant, asyncio.get_running_loop().create_future())
        heapq.heappush(self._heap, waiter)
        self._dispatch()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self._release()  # granted as it was cancelled: pass the slot on
            else:
                waiter.granted.cancel()  # _dispatch skips it
            raise

    def _release(self) -> None:
        self._free += 1
        self._dispatch()

    def _dispatch(self) -> None:
        while self._free > 0 and self._heap:
            waiter = heapq.heappop(self._heap)
            if waiter.granted.done():  # cancelled while waiting
                continue
            self._free -= 1
            self._now = waiter.tag
            waiter.granted.set_result(None)
        if not self._heap:
            self._last = {t: end for t, end in self._last.items() if end > self._now}

"""Where rendering, decoding and OCR run: a process pool sized to the cores.

Why processes and not ``asyncio.to_thread``: PyMuPDF and Pillow hold the GIL
while they render and decode (tens to hundreds of ms per page), so in a thread
they would stall the event loop that answers ``/healthz``, ``/metrics`` and the
bus; in a pool process they cannot. The model runtime gets ``cores // processes``
threads per process so the pool never oversubscribes the machine. Each process
builds one RapidOCR engine at start and reuses it.

The executor is created on the first job (or :meth:`CpuPool.warm`): until
then the service has no OCR process, not even multiprocessing's resource
tracker (13 MB). ``processes=0`` runs the same functions in threads instead (a
laptop without spare memory, or a debugger). Jobs wait for a process in a
weighted fair queue of tenants (:mod:`.fairqueue`): one tenant's 500-page
upload does not hold another's one-page receipt for more than one page's time.
Short jobs (counting a file's pages, cropping a figure) run beside the pages in
one spare process without models, so a receipt needs one turn of the queue, not two.
A page that overruns its timeout makes the pool
restart (its processes are killed, their other jobs fail as transient); a crashed
process does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from ragapi_common.errors import DeadlineExceeded, DependencyUnavailable

from . import rapid, tasks
from .fairqueue import FairQueue

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Share:
    """Whose page it is, and the tenant's weight in the fair queue."""

    tenant: str
    weight: float = 1.0


def default_processes() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


class CpuPool:
    """Runs :mod:`.tasks` functions off the event loop: ``size`` pages at once, in the
    fair queue's order, and one short job beside them in a spare process (no models)."""

    def __init__(
        self, processes: int, *, det_max_side: int = 960, runtime: str = "openvino"
    ) -> None:
        self.processes = processes
        self.det_max_side = det_max_side
        self.runtime = runtime
        self.size = processes or 1
        self.threads = max(1, default_processes() // self.size)
        self._executor: ProcessPoolExecutor | None = None
        self._spare: ProcessPoolExecutor | None = None
        self._open = False
        self.queue = FairQueue(self.size)
        self._short = asyncio.Semaphore(1)
        self._running = 0

    def start(self) -> None:
        """Accept jobs from now on (processes start with the first of them)."""
        self._open = True
        if self.processes == 0:
            rapid.configure(self.threads, self.det_max_side, self.runtime)

    def _pool(self, *, short: bool = False) -> ProcessPoolExecutor | None:
        """The page processes (or the spare one), started now if need be; None in thread
        mode or once closed."""
        if not self._open or self.processes == 0:
            return None
        if short:
            if self._spare is None:  # PyMuPDF and Pillow only: ~150 MB, not ~800
                self._spare = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"))
            return self._spare
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=tasks.warm_up,
                initargs=(self.threads, self.det_max_side, self.runtime),
            )
        return self._executor

    async def warm(self) -> None:
        """Start every process now (imports and models take seconds) instead of on first use."""
        pages = [self.run_for(Share(""), 120.0, tasks.ready) for _ in range(self.size)]
        await asyncio.gather(*pages, self.run(120.0, tasks.ready), return_exceptions=True)

    async def close(self) -> None:
        self._open = False
        for executor in (self._executor, self._spare):
            if executor is not None:
                await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        self._executor = self._spare = None

    @property
    def busy(self) -> int:
        """Jobs running now (at most ``size`` pages and one short job)."""
        return self._running

    async def run(
        self, timeout_s: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A short job (opening a file to count its pages, cropping a page) in the spare
        process, one at a time, without waiting behind pages; DeadlineExceeded after
        ``timeout_s`` of running."""
        async with self._short:
            call = functools.partial(fn, *args, **kwargs)
            return await self._call(self._pool(short=True), timeout_s, call)

    async def run_for(
        self,
        share: Share,
        timeout_s: float,
        fn: Callable[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """A page's work (or an office file's), in ``share.tenant``'s turn of the fair queue."""
        async with self.queue.turn(share.tenant, share.weight):
            call = functools.partial(fn, *args, **kwargs)
            return await self._call(self._pool(), timeout_s, call)

    async def _call(
        self, executor: ProcessPoolExecutor | None, timeout_s: float, call: Callable[[], T]
    ) -> T:
        self._running += 1
        try:
            if executor is None:
                return await asyncio.wait_for(asyncio.to_thread(call), timeout_s)
            future = asyncio.get_running_loop().run_in_executor(executor, call)
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            self._restart(executor, "a job overran its timeout")
            raise DeadlineExceeded(f"OCR work took longer than {timeout_s:g}s") from exc
        except BrokenProcessPool as exc:
            self._restart(executor, "a pool process died")
            raise DependencyUnavailable("an OCR process died; retry", retry_after=1) from exc
        finally:
            self._running -= 1

    def _restart(self, executor: ProcessPoolExecutor | None, why: str) -> None:
        """Kill the processes of ``executor`` (if still current) and start fresh ones."""
        if executor is None or executor not in (self._executor, self._spare):
            return
        log.warning("restarting the OCR process pool: %s", why)
        _kill(executor)
        # The next job starts a fresh pool.
        if executor is self._executor:
            self._executor = None
        else:
            self._spare = None


def _kill(executor: ProcessPoolExecutor) -> None:
    terminate: Callable[[], Any] | None = getattr(executor, "terminate_workers", None)
    if terminate is not None:  # Python 3.14+
        terminate()
        return
    # 3.11-3.13 have no public way to stop a running job; its processes are private.
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError):
            process.kill()
    executor.shutdown(wait=False, cancel_futures=True)

"""Where rendering, decoding and OCR run: a process pool sized to the cores.

Why processes and not ``asyncio.to_thread``: PyMuPDF and Pillow hold the GIL
while they render and decode (tens to hundreds of ms per page), so in a thread
they would stall the event loop that answers ``/healthz``, ``/metrics`` and the
bus; in a pool process they cannot. onnxruntime gets ``cores // processes``
threads per process so the pool never oversubscribes the machine. Each process
builds one RapidOCR engine at start and reuses it.

The executor is created on the first job (or :meth:`CpuPool.warm`): until
then the service has no OCR process, not even multiprocessing's resource
tracker (13 MB). ``processes=0`` runs the same functions in threads instead (a
laptop without spare memory, or a debugger). A page that overruns its timeout makes the pool
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
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ParamSpec, TypeVar

from ragapi_common.errors import DeadlineExceeded, DependencyUnavailable

from . import rapid, tasks

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def default_processes() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


class CpuPool:
    """Runs :mod:`.tasks` functions off the event loop, at most ``size`` at once."""

    def __init__(self, processes: int, *, det_max_side: int = 1280) -> None:
        self.processes = processes
        self.det_max_side = det_max_side
        self.size = processes or 1
        self.threads = max(1, default_processes() // self.size)
        self._executor: ProcessPoolExecutor | None = None
        self._open = False
        self._slots = asyncio.Semaphore(self.size)
        self._running = 0

    def start(self) -> None:
        """Accept jobs from now on (processes start with the first of them)."""
        self._open = True
        if self.processes == 0:
            rapid.configure(self.threads, self.det_max_side)

    def _pool(self) -> ProcessPoolExecutor | None:
        """The process pool, created now if need be; None in thread mode or once closed."""
        if self._executor is None and self._open and self.processes > 0:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=tasks.warm_up,
                initargs=(self.threads, self.det_max_side),
            )
        return self._executor

    async def warm(self) -> None:
        """Start every process now (imports and models take seconds) instead of on first use."""
        await asyncio.gather(
            *(self.run(120.0, tasks.ready) for _ in range(self.size)), return_exceptions=True
        )

    async def close(self) -> None:
        self._open = False
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    @property
    def busy(self) -> int:
        """Jobs running now (at most ``size``)."""
        return self._running

    async def run(
        self, timeout_s: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(*args)`` in the pool; DeadlineExceeded after ``timeout_s`` of running."""
        call = functools.partial(fn, *args, **kwargs)
        async with self._slots:
            executor = self._pool()
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

    def _restart(self, executor: Executor | None, why: str) -> None:
        """Kill the processes of ``executor`` (if still current) and start fresh ones."""
        if executor is None or executor is not self._executor:
            return
        log.warning("restarting the OCR process pool: %s", why)
        assert isinstance(executor, ProcessPoolExecutor)  # noqa: S101 - only kind we create
        _kill(executor)
        self._executor = None  # the next job starts a fresh pool


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

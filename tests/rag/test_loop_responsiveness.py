"""asyncio debug mode: no callback holds the event loop for 100 ms while LightRAG works."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX
from tests.rag.test_content import ITEMS, PNG

SLOW_S = 0.1


class _Reports(logging.Handler):
    """Callbacks that held the loop: asyncio's wall-time reports, and CPU per callback.

    Debug mode reports callbacks by wall time, which a busy machine inflates (a
    callback waiting for a core looks slow). So each callback's own CPU time on
    the loop thread is measured too, around ``Handle._run`` (what debug mode
    times): a callback that computed for ``SLOW_S`` blocks the loop anywhere.
    Cyclic garbage collections land in whichever callback happens to allocate;
    their time is counted apart (``gc_pauses``), not against that callback.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.wall: list[str] = []
        self.blocking: list[str] = []
        self.gc_pauses: list[float] = []
        self._gc_total = 0.0
        self._gc_started = 0.0
        self._loop_thread = threading.get_ident()

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != self._loop_thread:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
            return
        pause = time.thread_time() - self._gc_started
        self._gc_total += pause
        self.gc_pauses.append(pause)

    def emit(self, record: logging.LogRecord) -> None:
        if " took " in record.getMessage():
            self.wall.append(record.getMessage())

    def timed(self, run: Callable[[asyncio.Handle], None]) -> Callable[[asyncio.Handle], None]:
        def timed_run(handle: asyncio.Handle) -> None:
            started, collecting = time.thread_time(), self._gc_total
            run(handle)
            spent = time.thread_time() - started - (self._gc_total - collecting)
            if spent >= SLOW_S:
                self.blocking.append(f"{spent:.3f}s CPU: {_task_of(handle) or handle!r}")

        return timed_run


def _task_of(handle: asyncio.Handle) -> str:
    """The coroutine a task-step handle ran, with where it now waits."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None) or getattr(callback, "_task", None)
    if not isinstance(task, asyncio.Task):
        return ""
    frames = [f"{f.f_code.co_filename}:{f.f_lineno}" for f in task.get_stack(limit=3)]
    return f"{task.get_coro()!r} at {frames}"


@contextlib.contextmanager
def slow_callbacks(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Reports]:
    """asyncio debug mode on the running loop, slow callbacks collected."""
    loop = asyncio.get_running_loop()
    logger = logging.getLogger("asyncio")
    reports = _Reports()
    logger.addHandler(reports)
    monkeypatch.setattr(asyncio.Handle, "_run", reports.timed(asyncio.Handle._run))
    gc.callbacks.append(reports.on_gc)
    previous = loop.get_debug(), loop.slow_callback_duration
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_S
    try:
        yield reports
    finally:
        loop.set_debug(previous[0])
        loop.slow_callback_duration = previous[1]
        logger.removeHandler(reports)
        gc.callbacks.remove(reports.on_gc)
        monkeypatch.undo()


async def _workload(registry: Registry, tenant_for: TenantFor) -> None:
    context = tenant_for(vlm={"base_url": tenant_for().config.llm.base_url, "model": "v"})  # type: ignore[union-attr]
    tenant = await registry.get(context)
    for n, text in enumerate([ZORBLAX * 20, FALCON * 20, ORCHARD * 20]):
        await tenant.insert_text(f"doc-{n}", f"doc-{n}.txt", text)
    await tenant.insert_content("doc-c", "mills.pdf", ITEMS, {"pages/1/img-0.png": PNG})
    questions = [Question("Who founded Zorblax Industries?", mode=m) for m in
                 ("naive", "local", "global", "hybrid", "mix")]  # fmt: skip
    await asyncio.gather(*(tenant.answer(q) for q in questions))
    streamed = await tenant.answer_stream(Question("Who steers the Kelvin Falcon?"))
    assert [delta async for delta in streamed.deltas]
    await tenant.delete("doc-1")
    await registry.evict(context.tenant_id)
    reloaded = await registry.get(context)
    assert (await reloaded.retrieve(Question("cider in Rouen", mode="naive"))).references


async def test_insert_and_query_never_block_the_loop(
    registry: Registry, tenant_for: TenantFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once per process, outside the measurement: loading the embedding model and
    # the tokenizer's BPE file (both in threads) and httpcore's lazy imports.
    warm = await registry.get(tenant_for())
    await warm.insert_text("doc-w", "warm.txt", FALCON)
    with slow_callbacks(monkeypatch) as reports:
        await _workload(registry, tenant_for)
    assert reports.blocking == [], "\n".join([*reports.blocking, "wall:", *reports.wall])

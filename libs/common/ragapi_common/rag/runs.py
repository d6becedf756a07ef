"""LightRAG pipeline runs that can be stopped at once, through LightRAG's own cancellation.

LightRAG 1.5 cancels a run cooperatively: with ``cancellation_requested`` set in
the workspace's ``pipeline_status`` it stops before each chunk and marks the
documents in flight FAILED, but only once their running model calls return
(up to the LLM timeout). Cancelling the run's task instead ends it at once but
leaves its per-chunk extraction tasks running, still calling the LLM, with no
one to collect them (``extract_entities`` cancels them only on an exception).

So :meth:`PipelineRun.cancel` sets the flag and interrupts the model calls the
run has in flight: they raise LightRAG's ``PipelineCancelledException``, which
LightRAG handles as a cancellation (the other chunk tasks are cancelled and
collected, the document ends FAILED, the run stops). A run's calls are told
from any other (queries) by a context variable its task carries; LightRAG's
model queues run each call in the caller's context. The document a cancelled
run leaves FAILED is replaced by its next insert (see :mod:`.tenant`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from ._lightrag import LightRAG, PipelineCancelledException, shared_storage

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The message of an interrupted model call (LightRAG logs it, prefixed).
STOPPING = "ragapi stopped this pipeline run"

_current: contextvars.ContextVar[PipelineRun | None] = contextvars.ContextVar(
    "ragapi_pipeline_run", default=None
)


def _not_an_interruption(record: logging.LogRecord) -> bool:
    """LightRAG logs each interrupted call and chunk as an error; one line of ours says it."""
    return STOPPING not in record.getMessage()


logging.getLogger("lightrag").addFilter(_not_an_interruption)


class PipelineRun:
    """``apipeline_process_enqueue_documents`` as a task of its own, interruptible."""

    def __init__(self, rag: LightRAG, name: str = "lightrag-pipeline") -> None:
        self.rag = rag
        self.interrupted = False
        self._calls: set[asyncio.Future[Any]] = set()
        context = contextvars.copy_context()
        context.run(_current.set, self)
        self.task: asyncio.Task[None] = asyncio.create_task(
            rag.apipeline_process_enqueue_documents(), name=name, context=context
        )

    async def wait(self) -> None:
        """Until the run ends (its failure raised); cancelled meanwhile, :meth:`cancel` it."""
        try:
            await asyncio.wait({self.task})
        except asyncio.CancelledError:
            await self.cancel()
            raise
        self.task.result()

    async def cancel(self) -> None:
        """Stop the run now; cancelled while it winds down, cancel its task outright."""
        if self.task.done():
            return
        log.info("stopping LightRAG's pipeline run of %s", self.rag.workspace)
        await _request_cancellation(self.rag)
        self.interrupted = True
        for call in list(self._calls):
            call.cancel()
        try:
            await asyncio.wait({self.task})
        finally:
            if not self.task.done():
                self.task.cancel()
                await asyncio.wait({self.task})

    async def _guard(self, call: Awaitable[T]) -> T:
        if self.interrupted:
            _close(call)
            raise PipelineCancelledException(STOPPING)
        inner = asyncio.ensure_future(call)
        self._calls.add(inner)
        try:
            return await inner
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.interrupted and inner.cancelled() and not (current and current.cancelling()):
                raise PipelineCancelledException(STOPPING) from None
            raise
        finally:
            self._calls.discard(inner)


async def guarded(call: Awaitable[T]) -> T:
    """``await call``; made for a pipeline run that is being cancelled, raise at once."""
    run = _current.get()
    return await (call if run is None else run._guard(call))


async def _request_cancellation(rag: LightRAG) -> None:
    """What LightRAG's own "cancel pipeline" endpoint does."""
    status = await shared_storage.get_namespace_data("pipeline_status", workspace=rag.workspace)
    async with shared_storage.get_namespace_lock("pipeline_status", workspace=rag.workspace):
        if status.get("busy", False):
            status.update({"cancellation_requested": True, "latest_message": STOPPING})


def _close(call: Awaitable[object]) -> None:
    close = getattr(call, "close", None)
    if callable(close):
        close()  # a coroutine never awaited would warn

"""Writes to one tenant's LightRAG instance: concurrent inserts, exclusive everything else.

LightRAG 1.5 indexes several documents of one workspace at once inside one
pipeline run: a document enqueued while a run is busy is routed into that run
by its feeder, ``max_parallel_insert`` documents are extracted at a time, and
graph merges take LightRAG's per-entity keyed locks. So inserts share the
instance (:meth:`WriteGate.shared`) and wait for their own document
(:meth:`WriteGate.settle`), while deletes, content lists, eviction and drops
hold it alone (``async with gate``): LightRAG refuses a deletion while its
pipeline is busy, and those paths were written for a single writer.

The gate prefers exclusive waiters: once one waits, new inserts queue behind
it, so a stream of inserts cannot starve a deletion.

A group of inserts holds the tenant's cross-replica lock (``outer``) from its
first insert to the end of its run. With :class:`GroupBounds` a group takes new
inserts only up to ``docs`` of them or ``seconds`` after it formed; later
inserts wait for its run to end and the lock to go back, then form the next
group: another replica waiting for the tenant gets in between two groups (see
:mod:`.locks`), so a long batch cannot hold the tenant's writes for its whole
duration.

An insert cancelled while it waits (shutdown hands its job back) leaves its
document in the run. When the last insert of a group leaves and one of them
was cancelled, nobody waits for what is left of the run: it is stopped
(:meth:`.runs.PipelineRun.cancel`), not waited for, and the document's
redelivery replaces what it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ragapi_common.errors import RagapiError

from ._lightrag import DocStatus, LightRAG
from .runs import PipelineRun

log = logging.getLogger(__name__)

#: ``async with outer():`` — the tenant's cross-replica index lock (or nothing).
OuterLock = Callable[[], AbstractAsyncContextManager[Any]]
#: A future resolved at the next change of a document's status (see :mod:`.commits`).
StatusChanges = Callable[[str], "asyncio.Future[None]"]

#: Pipeline runs a document may outlast before its insert gives up (see :meth:`settle`).
MAX_RUNS = 3
_POLL_FIRST_S = 0.05
_POLL_MAX_S = 0.5
_SETTLED = (DocStatus.PROCESSED, DocStatus.FAILED)


@dataclass(frozen=True)
class GroupBounds:
    """How many inserts, and for how long, one group takes in; ``None``: no bound."""

    docs: int | None = None
    seconds: float | None = None


UNBOUNDED = GroupBounds()


class WriteGate:
    """Shared inserts through one pipeline run, or one exclusive writer."""

    def __init__(
        self, rag: LightRAG, status_changes: StatusChanges | None = None,
        bounds: GroupBounds = UNBOUNDED,
    ) -> None:  # fmt: skip
        self.rag = rag
        self.bounds = bounds
        #: Wakes :meth:`settle` at once when a status changes; without it, polling only.
        self.status_changes = status_changes
        self._changed = asyncio.Condition()
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0
        self._group = asyncio.Lock()
        self._members = 0
        #: Inserts the current group took in, and when it formed (monotonic).
        self._admitted = 0
        self._formed = 0.0
        self._abandoned = False
        self._outer: AsyncExitStack | None = None
        self._run: PipelineRun | None = None
        #: Held across "is the document there? then enqueue it" by inserts.
        self.admission = asyncio.Lock()

    @property
    def inserting(self) -> int:
        """Inserts holding the gate now."""
        return self._shared

    # --- shared: inserts -----------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def shared(self, outer: OuterLock) -> AsyncIterator[None]:
        """Hold the gate with other inserts; ``outer`` is held once for the whole group."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: not self._exclusive and not self._exclusive_waiting and self._open()
            )
            if not self._admitted:
                self._formed = time.monotonic()
            self._admitted += 1
            self._shared += 1
        try:
            await self._join_group(outer)
            abandoned = False
            try:
                yield
            except asyncio.CancelledError:
                abandoned = True
                raise
            finally:
                await self._leave_group(abandoned)
        finally:
            async with self._changed:
                self._shared -= 1
                self._changed.notify_all()

    def _open(self) -> bool:
        """Whether the current group (if any) takes another insert."""
        if not self._admitted:
            return True
        docs, seconds = self.bounds.docs, self.bounds.seconds
        if docs is not None and self._admitted >= docs:
            return False
        return seconds is None or time.monotonic() - self._formed < seconds

    async def _join_group(self, outer: OuterLock) -> None:
        async with self._group:
            if self._outer is None:
                stack = AsyncExitStack()
                await stack.enter_async_context(outer())
                self._outer = stack
            self._members += 1

    async def _leave_group(self, abandoned: bool) -> None:
        async with self._group:
            self._members -= 1
            self._abandoned |= abandoned
            if self._members or self._outer is None:
                return
            stack, self._outer = self._outer, None
            abandoned, self._abandoned = self._abandoned, False
            try:
                # The last insert leaves: let the run end before another replica writes.
                await (self._cancel_run() if abandoned else self._run_ended())
            finally:
                # Even when cancelled: a lock kept renewed by no one's group would be held forever.
                await stack.aclose()
                self._admitted = 0  # the next insert forms a new group (``shared`` notifies)

    async def settle(self, doc_id: str) -> None:
        """Run LightRAG's pipeline (or join the running one) until ``doc_id`` is done.

        Call while holding :meth:`shared`, after enqueueing the document.
        """
        for _ in range(MAX_RUNS):
            run = self._run
            if run is None or run.task.done():
                run = self._run = PipelineRun(self.rag)
                run.task.add_done_callback(_log_failure)
            if await self._watch(doc_id, run.task):
                return
        raise RagapiError(f"document {doc_id} was still queued after {MAX_RUNS} pipeline runs")

    async def _watch(self, doc_id: str, run: asyncio.Task[None]) -> bool:
        """True once the document is processed, failed or gone; False if ``run`` ended first."""
        delay = _POLL_FIRST_S
        while True:
            # Taken before the read: a change right after it still wakes this wait.
            changed = self.status_changes(doc_id) if self.status_changes is not None else None
            status = await self.rag.doc_status.get_by_id(doc_id)
            if not status or status.get("status") in _SETTLED:
                return True
            if run.done():
                if run.cancelled():  # not by this insert: it would have been cancelled itself
                    raise RagapiError(f"LightRAG's pipeline run ended before document {doc_id}")
                run.result()  # the pipeline's own failure, if it raised
                return False
            # Waiting does not cancel the run: it belongs to every insert of the tenant.
            await asyncio.wait({run} if changed is None else {run, changed}, timeout=delay)
            delay = min(delay * 2, _POLL_MAX_S)

    async def _run_ended(self) -> None:
        run = self._run
        if run is not None and not run.task.done():
            await asyncio.wait({run.task})

    async def _cancel_run(self) -> None:
        if self._run is not None:
            await self._run.cancel()

    # --- exclusive: deletes, content lists, eviction ---------------------------------------
    async def __aenter__(self) -> None:
        async with self._changed:
            self._exclusive_waiting += 1
            try:
                await self._changed.wait_for(lambda: not self._exclusive and not self._shared)
                self._exclusive = True
            finally:
                self._exclusive_waiting -= 1
                self._changed.notify_all()
        try:
            # The inserts are out; their pipeline run may still be winding down.
            await self._run_ended()
        except BaseException:
            await self._release()
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._release()

    async def _release(self) -> None:
        async with self._changed:
            self._exclusive = False
            self._changed.notify_all()


def _log_failure(run: asyncio.Task[None]) -> None:
    """Retrieve a run's failure even when no insert is left to see it."""
    if not run.cancelled() and run.exception() is not None:
        log.error("LightRAG's pipeline run failed", exc_info=run.exception())

"""Tasks: their state (counts from the documents) and an SSE stream of their progress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import DocumentEvent, TaskEvent
from ragapi_common.errors import NotFound
from ragapi_common.outages import unavailable
from ragapi_common.sse import EventStreamResponse, encode_event
from ragapi_common.web import Slot

from .context import Ingest
from .views import Task, TaskCounts

log = logging.getLogger(__name__)
T = TypeVar("T")


class Tasks:
    def __init__(self, slot: Slot[Ingest]) -> None:
        self.slot = slot

    async def _task(self, request: Request) -> tuple[Ingest, str, Task]:
        ingest = self.slot.value
        tenant, _ = await ingest.tenant(request)
        task_id = request.path_params["task_id"]
        task = await ingest.records.task(tenant.tenant_id, task_id)
        if task is None:
            raise NotFound(f"no task {task_id}")
        return ingest, tenant.tenant_id, task

    async def get(self, request: Request) -> JSONResponse:
        _, _, task = await self._task(request)
        return JSONResponse(task.body())

    async def events(self, request: Request) -> EventStreamResponse:
        """``text/event-stream``: a ``snapshot``, then ``document`` and ``progress`` events,
        then ``done`` with the final task once it ends."""
        ingest, tenant_id, task = await self._task(request)
        stream = _TaskStream(ingest, tenant_id, task)
        await stream.subscribe()
        return EventStreamResponse(stream.events(), on_close=stream.unsubscribe)


class _TaskStream:
    """Bus events of one task, merged with periodic re-reads (core NATS may drop events)."""

    def __init__(self, ingest: Ingest, tenant_id: str, task: Task) -> None:
        self.ingest = ingest
        self.tenant_id = tenant_id
        self.task = task
        self.doc_ids = {doc.doc_id for doc in task.documents}
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._subs: list[Any] = []

    async def subscribe(self) -> None:
        bus = self.ingest.bus

        async def on_task(subject: str, event: TaskEvent) -> None:
            await self.queue.put(("progress", event.model_dump(exclude_none=True)))

        async def on_document(subject: str, event: DocumentEvent) -> None:
            if event.doc_id in self.doc_ids:
                await self.queue.put(("document", event.model_dump(exclude_none=True)))

        self._subs.append(
            await bus.subscribe(subjects.task_events(self.task.task_id), TaskEvent, on_task)
        )
        self._subs.append(
            await bus.subscribe(
                subjects.document_events(self.tenant_id), DocumentEvent, on_document
            )
        )

    async def unsubscribe(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()

    async def events(self) -> AsyncIterator[bytes]:
        task = await self._reread() or self.task
        yield encode_event(task.body(), event="snapshot")
        counts = task.counts
        refresh_s = self.ingest.settings.task_stream_refresh_s
        while not counts.finished:
            try:
                kind, data = await asyncio.wait_for(self.queue.get(), refresh_s)
            except TimeoutError:
                kind, data = "", {}
            if kind:
                yield encode_event(data, event=kind)
            latest = await self._counts()
            if latest is None:
                return
            if kind != "progress" and latest != counts:
                yield encode_event(latest.model_dump(), event="progress")
            counts = latest
        final = await self._reread()
        if final is not None:
            yield encode_event(final.body(), event="done")

    async def _reread(self) -> Task | None:
        return await self._waiting(
            lambda: self.ingest.records.task(self.tenant_id, self.task.task_id)
        )

    async def _counts(self) -> TaskCounts | None:
        return await self._waiting(
            lambda: self.ingest.records.task_counts(self.tenant_id, self.task.task_id)
        )

    async def _waiting(self, read: Callable[[], Awaitable[T]]) -> T:
        """``read()``, tried again every refresh while Redis is down: the stream stays open
        (its keep-alive pings go on) and carries on once Redis is back."""
        while True:
            try:
                return await read()
            except Exception as exc:
                if unavailable(exc) is None:
                    raise
                log.warning("task %s stream waits: %s", self.task.task_id, exc)
            await asyncio.sleep(self.ingest.settings.task_stream_refresh_s)

"""Starts and stops the ingest service's workers, and hears failures reported by OCR."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis

from ragapi_common.bus import Bus, Worker
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import DocumentEvent
from ragapi_common.rag.api import RagRegistry
from ragapi_common.shutdown import Shutdown

from .fairness import IndexGate
from .progress import Progress
from .records import Records
from .settings import IngestSettings
from .telemetry import IngestMetrics
from .workers.index import IndexWorker
from .workers.ingest import IngestWorker
from .workers.removal import RemovalWorkers

log = logging.getLogger(__name__)


class Workers:
    """Every worker of one process, sharing one index gate; they take no new job from the
    moment ``shutdown`` begins (the first signal), while HTTP requests still drain."""

    def __init__(
        self,
        settings: IngestSettings,
        bus: Bus,
        redis: Redis,
        records: Records,
        progress: Progress,
        registry: RagRegistry,
        metrics: IngestMetrics,
        shutdown: Shutdown,
    ) -> None:
        self.settings = settings
        self.shutdown = shutdown
        self.bus = bus
        self.progress = progress
        self.gate = IndexGate(
            redis,
            total=settings.index_total_limit,
            per_tenant=settings.index_tenant_limit,
            backlog=settings.index_tenant_backlog,
            lease_ttl_s=settings.tenant_lock_ttl_s,
        )
        ingest = IngestWorker(settings, bus, records, progress)
        index = IndexWorker(settings, bus, records, progress, registry, self.gate, metrics)
        removal = RemovalWorkers(settings, bus, records, progress, registry, self.gate)
        self._specs: list[Any] = [ingest.spec(), index.spec(), *removal.specs()]
        self._running: list[Worker[Any]] = []
        self._sub: Any = None
        self._on_signal: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for spec in self._specs:
            self._running.append(await self.bus.start_worker(spec))
        self._on_signal = asyncio.create_task(self._stop_fetching_on_signal())
        self._sub = await self.bus.subscribe(
            subjects.document_events("*"), DocumentEvent, self._on_document_event
        )

    async def _on_document_event(self, subject: str, event: DocumentEvent) -> None:
        """Another service (OCR) says a document failed: record it while it is parsing."""
        if event.status == "failed" and event.error:
            await self.progress.move(
                event.tenant_id,
                event.doc_id,
                "failed",
                allowed_from=("parsing",),
                error=event.error,
            )

    async def _stop_fetching_on_signal(self) -> None:
        await self.shutdown.wait_begun()
        await asyncio.gather(*(worker.stop_fetching() for worker in self._running))

    async def stop(self) -> None:
        """Stop fetching; jobs in flight get the first half of the grace period, then go back
        to the queue (all workers at once, so one busy worker holds up no other)."""
        if self._on_signal is not None:
            self._on_signal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._on_signal
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        await asyncio.gather(*(worker.stop(self.shutdown) for worker in self._running))
        self._running.clear()
        await self.gate.close()

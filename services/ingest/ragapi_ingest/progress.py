"""Status changes of documents, told to Redis first and to the bus after."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import DocumentEvent, DocumentStatus, TaskEvent

from .records import Records
from .telemetry import IngestMetrics

log = logging.getLogger(__name__)


class Progress:
    """Moves documents between statuses and publishes document and task events."""

    def __init__(self, records: Records, bus: Bus, metrics: IngestMetrics) -> None:
        self.records = records
        self.bus = bus
        self.metrics = metrics

    async def move(
        self,
        tenant_id: str,
        doc_id: str,
        status: DocumentStatus,
        *,
        allowed_from: tuple[str, ...] | None = None,
        error: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> bool:
        """Change the status if allowed; publish events when it changed."""
        extra = dict(fields or {})
        if error is not None:
            extra["error"] = error[:2000]
        old = await self.records.set_status(
            tenant_id, doc_id, status, allowed_from=allowed_from, fields=extra
        )
        if old is None:
            return False
        if old != status:
            self.metrics.documents.labels(status).inc()
            await self.announce(tenant_id, doc_id, status, error=error)
        return True

    async def announce(
        self, tenant_id: str, doc_id: str, status: DocumentStatus, *, error: str | None = None
    ) -> None:
        """Publish the document's event and the progress of every task holding it."""
        task_ids = await self.records.tasks_of(tenant_id, doc_id)
        event = DocumentEvent(
            tenant_id=tenant_id,
            doc_id=doc_id,
            task_id=task_ids[0] if task_ids else None,
            status=status,
            error=error,
        )
        await self.bus.publish(subjects.document_events(tenant_id), event)
        for task_id in task_ids:
            await self.announce_task(tenant_id, task_id)

    async def announce_task(self, tenant_id: str, task_id: str) -> None:
        counts = await self.records.task_counts(tenant_id, task_id)
        if counts is None:
            return
        await self.bus.publish(
            subjects.task_events(task_id),
            TaskEvent(
                tenant_id=tenant_id,
                task_id=task_id,
                status=counts.status,
                total=counts.total,
                done=counts.done,
                failed=counts.failed,
            ),
        )

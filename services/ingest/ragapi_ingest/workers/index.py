"""Index jobs: text or an OCR content list into the tenant's LightRAG instance."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any

from ragapi_common.bus import Bus, JobContext, PermanentJobError, WorkerSpec
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import IndexJob
from ragapi_common.errors import Conflict, NotFound, ValidationFailed
from ragapi_common.rag.api import IndexReport, RagRegistry, TenantRag
from ragapi_common.rag.progress import indexing_progress

from ..fairness import Crowded, IndexGate
from ..progress import Progress
from ..records import Records
from ..settings import IngestSettings
from ..telemetry import IngestMetrics
from ..tenants import TenantDirectory

log = logging.getLogger(__name__)
_ACTIVE = ("queued", "parsing", "indexing")


class IndexWorker:
    def __init__(
        self,
        settings: IngestSettings,
        bus: Bus,
        records: Records,
        progress: Progress,
        registry: RagRegistry,
        gate: IndexGate,
        metrics: IngestMetrics,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.records = records
        self.progress = progress
        self.registry = registry
        self.gate = gate
        self.metrics = metrics
        self.tenants = TenantDirectory(bus)

    def spec(self) -> WorkerSpec[IndexJob]:
        s = self.settings
        return WorkerSpec(
            durable=subjects.DURABLE_INDEX,
            subject=subjects.JOB_INDEX,
            model=IndexJob,
            handle=self.handle,
            on_exhausted=self.exhausted,
            concurrency=s.index_concurrency,
            max_deliver=s.max_deliver,
            backoff_s=s.job_backoff_s,
            ack_wait_s=s.index_ack_wait_s,
        )

    async def handle(self, job: IndexJob, ctx: JobContext) -> None:
        """Index once: a redelivery of a processed or deleted document does nothing."""
        raw = await self.records.raw_document(job.tenant_id, job.doc_id)
        if raw is None or raw["status"] not in _ACTIVE:
            return
        try:
            async with self.gate.slot(job.tenant_id, patience_s=self.settings.index_defer_after_s):
                await self._index(job)
        except Crowded:
            # The tenant has enough work running and waiting: back to the tail of the queue.
            await self.bus.submit(
                subjects.JOB_INDEX, job, msg_id=f"index:{job.doc_id}:{secrets.token_hex(6)}"
            )

    async def _index(self, job: IndexJob) -> None:
        moved = await self.progress.move(
            job.tenant_id, job.doc_id, "indexing", allowed_from=_ACTIVE
        )
        if not moved:
            return
        try:
            tenant = await self.tenants.get(job.tenant_id)
        except NotFound as exc:
            raise PermanentJobError(f"tenant {job.tenant_id} is gone") from exc
        rag = await self.registry.get(tenant)
        kind = "content" if job.content_object else "text"
        started = time.perf_counter()
        reporter = asyncio.create_task(self._report_progress(job, rag, started))
        try:
            report = await self._insert(rag, job)
        except (Conflict, ValidationFailed) as exc:  # retrying cannot change the input
            raise PermanentJobError(exc.message) from exc
        finally:
            reporter.cancel()
        self.metrics.index_seconds.labels(kind).observe(time.perf_counter() - started)
        fields = {"chunks": str(report.chunks), "llm": "1" if report.llm else "0", "progress": ""}
        # Indexed, but degraded: a page read by the OCR fallback, a failed image analysis.
        warnings = [*([job.warning] if job.warning else []), *report.warnings]
        if warnings:
            fields["warning"] = "; ".join(warnings)
        done = await self.progress.move(
            job.tenant_id, job.doc_id, "processed", allowed_from=("indexing",), fields=fields
        )
        if not done and await self._deleted(job):
            # Deleted while it was being indexed: the delete may have run first, so undo.
            await rag.delete(job.doc_id)

    async def _report_progress(self, job: IndexJob, rag: TenantRag, started: float) -> None:
        """While LightRAG works: the document's ``progress`` and a log line, every interval."""
        while True:
            await asyncio.sleep(self.settings.index_progress_interval_s)
            try:
                progress = await indexing_progress(rag, job.doc_id) or "started"
                text = f"{progress} after {time.perf_counter() - started:.0f} s"
                await self.records.set_status(
                    job.tenant_id, job.doc_id, "indexing", allowed_from=("indexing",),
                    fields={"progress": text},
                )  # fmt: skip
            except Exception as exc:  # a Redis blip must not end the insert it reports on
                log.warning("progress of %s not recorded: %s", job.doc_id, exc)
                continue
            log.info("indexing %s (%s): %s", job.doc_id, job.name, text)

    async def _deleted(self, job: IndexJob) -> bool:
        """Deleting or gone; not merely processed by a redelivery of this job that ran alongside."""
        raw = await self.records.raw_document(job.tenant_id, job.doc_id)
        return raw is None or raw["status"] == "deleting"

    async def _insert(self, rag: TenantRag, job: IndexJob) -> IndexReport:
        if job.text is not None:
            return await rag.insert_text(job.doc_id, job.name, job.text)
        if job.text_object is not None:
            text = await self._read_text(job.text_object)
            return await rag.insert_text(job.doc_id, job.name, text)
        if job.content_object is not None:
            items = await asyncio.to_thread(content_items, await self._read(job.content_object))
            assets = await self._assets(job, items)
            names = [job.content_object, *assets]
            await self.records.add_artefacts(job.tenant_id, job.doc_id, names)
            return await rag.insert_content(job.doc_id, job.name, items, assets)
        raise PermanentJobError("the index job carries neither text nor content")

    async def _read(self, name: str) -> bytes:
        try:
            return await self.bus.files.read_bytes(name)
        except NotFound as exc:
            raise PermanentJobError(f"a stored input is gone: {exc.message}") from exc

    async def _read_text(self, name: str) -> str:
        """Stored UTF-8 text (the bytes are let go before the text is indexed)."""
        data = await self._read(name)
        return await asyncio.to_thread(data.decode, "utf-8", "replace")

    async def _assets(self, job: IndexJob, items: list[dict[str, Any]]) -> dict[str, bytes]:
        """Image bytes by ``img_path``, for paths inside the tenant's part of the store."""
        assets: dict[str, bytes] = {}
        for item in items:
            path = item.get("img_path")
            if item.get("type") != "image" or not isinstance(path, str) or path in assets:
                continue
            if not path.startswith(f"{job.tenant_id}/"):
                log.warning("ignoring image outside the tenant's files: %s", path)
                continue
            assets[path] = await self._read(path)
        return assets

    async def exhausted(self, job: IndexJob, reason: str) -> None:
        await self.progress.move(
            job.tenant_id, job.doc_id, "failed", allowed_from=_ACTIVE, error=reason,
            fields={"progress": ""},
        )  # fmt: skip


def content_items(raw: bytes) -> list[dict[str, Any]]:
    """The items of a stored content list: a bare list, or ``{"content": [...]}``."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise PermanentJobError(f"the content list is not JSON: {exc}") from exc
    items = value.get("content") if isinstance(value, dict) else value
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise PermanentJobError("the content list is not a list of objects")
    return items

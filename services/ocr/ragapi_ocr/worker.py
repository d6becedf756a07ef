"""The OCR job consumer: stored upload in, content list stored and an index job out.

For each :class:`OcrJob` on ``ragapi.jobs.ocr``: copy the file down from the
object store, read it with the tenant's engine, store the page images and
``<tenant>/<doc_id>/content.json`` (an :class:`OcrResult`: markdown plus the
content list), then queue an :class:`IndexJob` pointing at it. A file that can
never be read (empty, damaged, encrypted, too big, unsupported) ends the job at
once with the reason; when a job is given up, a ``failed`` document event
carries that reason to whoever keeps the document's status. A replica reads at
most ``RAGAPI_OCR_WORKER_TENANT_DOCUMENTS`` documents of one tenant at once; a
job over that goes back to the tail of the queue (:mod:`.admission`).
"""

from __future__ import annotations

import logging
import secrets

from ragapi_common.bus import Bus, JobContext, PermanentJobError, WorkerSpec
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import (
    DocumentEvent,
    IndexJob,
    OcrJob,
    TenantContext,
    TenantLookupRequest,
)
from ragapi_common.errors import NotFound
from ragapi_common.logs import task_id_var, tenant_id_var

from .admission import Crowded, TenantDocuments
from .pipeline import OcrPipeline, job_error, store, store_result
from .settings import OcrSettings
from .staging import Staging

log = logging.getLogger(__name__)
DURABLE = subjects.DURABLE_OCR


async def lookup_tenant(bus: Bus, tenant_id: str) -> TenantContext:
    """The tenant's record and config from the tenants service."""
    return await bus.request(
        subjects.TENANTS_GET, TenantLookupRequest(tenant_id=tenant_id), TenantContext
    )


class OcrWorker:
    def __init__(
        self, bus: Bus, pipeline: OcrPipeline, staging: Staging, settings: OcrSettings
    ) -> None:
        self.bus = bus
        self.pipeline = pipeline
        self.staging = staging
        self.settings = settings
        self.documents = TenantDocuments(
            settings.ocr_worker_tenant_documents, settings.ocr_worker_defer_after_s
        )

    def spec(self) -> WorkerSpec[OcrJob]:
        return WorkerSpec(
            durable=DURABLE,
            subject=subjects.JOB_OCR,
            model=OcrJob,
            handle=self.handle,
            on_exhausted=self.exhausted,
            concurrency=self.settings.ocr_worker_concurrency,
            max_deliver=self.settings.ocr_worker_max_deliver,
            ack_wait_s=60.0,
        )

    async def handle(self, job: OcrJob, ctx: JobContext) -> None:
        tenant_id_var.set(job.tenant_id)
        task_id_var.set(job.task_id)
        try:
            async with self.documents.slot(job.tenant_id):
                await self._read(job)
        except Crowded:
            # Enough of this tenant's documents are being read here: back to the tail.
            await self.bus.submit(
                subjects.JOB_OCR, job, msg_id=f"ocr:{job.doc_id}:{secrets.token_hex(6)}"
            )

    async def _read(self, job: OcrJob) -> None:
        try:
            tenant = await lookup_tenant(self.bus, job.tenant_id)
            path = await self.staging.from_store(self.bus.files, job.object_name)
        except NotFound as exc:
            raise PermanentJobError(f"not_found: {exc}") from exc
        try:
            extraction = await self.pipeline.read(path, tenant, job.engine)
        except Exception as exc:
            raise job_error(exc) from exc
        finally:
            await self.staging.discard(path)
        prefix = f"{job.tenant_id}/{job.doc_id}"
        result = await store(self.bus.files, prefix, extraction)
        content_object = await store_result(self.bus.files, prefix, result)
        index = IndexJob(
            tenant_id=job.tenant_id,
            task_id=job.task_id,
            doc_id=job.doc_id,
            name=job.name,
            content_type=job.content_type,
            content_object=content_object,
            warning="; ".join(result.warnings) or None,
        )
        # The same msg id on a redelivered job makes the second publish a no-op.
        await self.bus.submit(
            subjects.JOB_INDEX, index, msg_id=f"index:{job.tenant_id}:{job.doc_id}"
        )
        log.info("ocr done: %d pages by %s", result.pages, result.engine)

    async def exhausted(self, job: OcrJob, reason: str) -> None:
        """Tell the document's keeper why it failed."""
        event = DocumentEvent(
            tenant_id=job.tenant_id,
            doc_id=job.doc_id,
            task_id=job.task_id,
            status="failed",
            error=f"OCR failed: {reason}",
        )
        await self.bus.publish(subjects.document_events(job.tenant_id), event)

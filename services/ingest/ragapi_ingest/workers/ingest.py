"""Ingest jobs: text-like documents decoded here and sent to indexing; the rest to OCR."""

from __future__ import annotations

import asyncio
import codecs

from ragapi_common.bus import Bus, JobContext, PermanentJobError, WorkerSpec
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import IndexJob, IngestJob, OcrJob
from ragapi_common.errors import NotFound

from ..decode import decode_document
from ..progress import Progress
from ..records import Records
from ..settings import IngestSettings

_TEXT_TYPES = ("text/", "application/json", "application/xml")


def is_text(content_type: str) -> bool:
    return content_type.startswith(_TEXT_TYPES)


class IngestWorker:
    def __init__(
        self, settings: IngestSettings, bus: Bus, records: Records, progress: Progress
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.records = records
        self.progress = progress

    def spec(self) -> WorkerSpec[IngestJob]:
        s = self.settings
        return WorkerSpec(
            durable=subjects.DURABLE_INGEST,
            subject=subjects.JOB_INGEST,
            model=IngestJob,
            handle=self.handle,
            on_exhausted=self.exhausted,
            concurrency=s.ingest_concurrency,
            max_deliver=s.max_deliver,
            backoff_s=s.job_backoff_s,
        )

    async def handle(self, job: IngestJob, ctx: JobContext) -> None:
        """Route one stored upload; a redelivery after the route was taken is a no-op."""
        moved = await self.progress.move(
            job.tenant_id, job.doc_id, "parsing", allowed_from=("queued", "parsing")
        )
        if not moved:
            return  # deleted, or already past this step
        if is_text(job.content_type):
            await self._decode(job)
        else:
            ocr = OcrJob(**job.model_dump())
            await self.bus.submit(subjects.JOB_OCR, ocr, msg_id=f"ocr:{job.doc_id}")

    async def _decode(self, job: IngestJob) -> None:
        try:
            data = await self.bus.files.read_bytes(job.object_name)
        except NotFound as exc:
            raise PermanentJobError(f"the stored file is gone: {exc.message}") from exc
        text, encoded = await asyncio.to_thread(_decoded, data, job.content_type)
        size = len(data if encoded is None else encoded)
        del data
        if not text or text.isspace():
            raise PermanentJobError("the document holds no text")
        ref = job.model_dump(exclude={"object_name"})
        if size <= self.settings.inline_text_bytes:
            index = IndexJob(**ref, text=text)
        elif encoded is None:
            # The upload is its own text (UTF-8, nothing to drop): indexed from where it is.
            index = IndexJob(**ref, text_object=job.object_name)
        else:
            name = f"{job.object_name}/text"
            await self.bus.files.write_bytes(name, encoded)
            await self.records.add_artefacts(job.tenant_id, job.doc_id, [name])
            index = IndexJob(**ref, text_object=name)
        await self.bus.submit(subjects.JOB_INDEX, index, msg_id=f"index:{job.doc_id}")

    async def exhausted(self, job: IngestJob, reason: str) -> None:
        await self.progress.move(
            job.tenant_id, job.doc_id, "failed", allowed_from=("queued", "parsing"), error=reason
        )


def _decoded(data: bytes, content_type: str) -> tuple[str, bytes | None]:
    """The document's text and its UTF-8 bytes, None when those are ``data`` itself."""
    if content_type != "text/html" and not data.startswith(codecs.BOM_UTF8) and b"\0" not in data:
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            pass
    text = decode_document(data, content_type)
    return text, text.encode()

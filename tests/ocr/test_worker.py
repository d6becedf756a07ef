"""The OCR job worker and the ``ragapi.ocr.run`` endpoint, over real NATS JetStream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import httpx
import pytest
from pydantic import BaseModel

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import DocumentEvent, IndexJob, OcrJob, OcrRequest, OcrResult
from ragapi_common.errors import NotFound, PayloadTooLarge, ValidationFailed
from tests.conftest import TenantFactory
from tests.ocr import documents as docs
from tests.ocr.textmetrics import cer

M = TypeVar("M", bound=BaseModel)


class Seen(Generic[M]):
    """Payloads seen on a subject, and a way to wait for one."""

    def __init__(self) -> None:
        self.items: list[M] = []
        self._changed = asyncio.Condition()

    async def add(self, _: str, payload: M) -> None:
        async with self._changed:
            self.items.append(payload)
            self._changed.notify_all()

    def any(self, match: Callable[[M], bool]) -> bool:
        return any(match(item) for item in self.items)

    async def first(self, match: Callable[[M], bool], timeout_s: float = 90) -> M:
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: self.any(match))
            return next(item for item in self.items if match(item))


@asynccontextmanager
async def watching(bus: Bus, subject: str, model: type[M]) -> AsyncIterator[Seen[M]]:
    """Everything published on ``subject`` while the block runs."""
    seen: Seen[M] = Seen()
    subscription = await bus.subscribe(subject, model, seen.add)
    try:
        yield seen
    finally:
        await subscription.unsubscribe()


async def submit(bus: Bus, tenant_id: str, data: bytes, name: str) -> str:
    doc_id = uuid.uuid4().hex[:12]
    object_name = f"{tenant_id}/{doc_id}"
    await bus.files.write_bytes(object_name, data)
    job = OcrJob(
        tenant_id=tenant_id,
        task_id=f"task-{doc_id}",
        doc_id=doc_id,
        name=name,
        content_type="application/octet-stream",
        object_name=object_name,
    )
    await bus.submit(subjects.JOB_OCR, job, msg_id=f"test-ocr:{doc_id}")
    return doc_id


async def test_job_stores_content_and_queues_index_job(
    ocr: httpx.AsyncClient, bus: Bus, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    data, truth = docs.figure_pdf()
    async with watching(bus, subjects.JOB_INDEX, IndexJob) as index_jobs:
        doc_id = await submit(bus, tenant.id, data, "figure.pdf")
        job = await index_jobs.first(lambda j: j.doc_id == doc_id)
    assert job.tenant_id == tenant.id
    assert job.task_id == f"task-{doc_id}"
    assert job.name == "figure.pdf"
    assert job.text is None
    assert job.content_object == f"{tenant.id}/{doc_id}/content.json"
    result = OcrResult.model_validate_json(await bus.files.read_bytes(job.content_object))
    assert result.engine == "local"
    assert result.pages == 1
    text = " ".join(item["text"] for item in result.content if item["type"] == "text")
    assert cer("".join(truth), text) <= 0.02
    image = next(item for item in result.content if item["type"] == "image")
    assert image["img_path"] == f"{tenant.id}/{doc_id}/images/p0-0.png"
    assert (await bus.files.read_bytes(image["img_path"])).startswith(b"\x89PNG")
    assert f"]({image['img_path']})" in result.markdown


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(docs.corrupt_pdf(), "corrupt", id="corrupt-pdf"),
        pytest.param(docs.encrypted_pdf(), "encrypted", id="encrypted-pdf"),
        pytest.param(docs.huge_png(), "too_many_pixels", id="huge-png"),
        pytest.param(b"", "empty", id="zero-bytes"),
    ],
)
async def test_bad_file_fails_its_document_and_worker_goes_on(
    ocr: httpx.AsyncClient, bus: Bus, tenant_factory: TenantFactory, data: bytes, reason: str
) -> None:
    tenant = await tenant_factory()
    good, _ = docs.text_pdf(pages=1)
    events_subject = subjects.document_events(tenant.id)
    async with (
        watching(bus, events_subject, DocumentEvent) as events,
        watching(bus, subjects.JOB_INDEX, IndexJob) as index_jobs,
    ):
        bad_id = await submit(bus, tenant.id, data, "bad.pdf")
        good_id = await submit(bus, tenant.id, good, "good.pdf")
        failed = await events.first(lambda e: e.doc_id == bad_id)
        await index_jobs.first(lambda j: j.doc_id == good_id)
    assert failed.status == "failed"
    assert failed.task_id == f"task-{bad_id}"
    assert failed.error is not None
    assert failed.error.startswith(f"OCR failed: {reason}: ")
    assert not index_jobs.any(lambda j: j.doc_id == bad_id)


async def test_run_endpoint_reads_a_stored_file(
    ocr: httpx.AsyncClient, bus: Bus, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    data, truth = docs.scanned_pdf()
    object_name = f"{tenant.id}/{uuid.uuid4().hex[:12]}"
    await bus.files.write_bytes(object_name, data)
    request = OcrRequest(
        tenant_id=tenant.id, object_name=object_name, content_type="application/pdf"
    )
    result = await bus.request(subjects.OCR_RUN, request, OcrResult, within_s=90)
    assert result.engine == "local"
    assert cer("".join(truth), result.markdown) <= 0.02


async def test_run_endpoint_errors(
    ocr: httpx.AsyncClient, bus: Bus, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    other = await tenant_factory()
    object_name = f"{other.id}/{uuid.uuid4().hex[:12]}"
    await bus.files.write_bytes(object_name, docs.encrypted_pdf())

    async def run(tenant_id: str, name: str) -> OcrResult:
        request = OcrRequest(tenant_id=tenant_id, object_name=name, content_type="application/pdf")
        return await bus.request(subjects.OCR_RUN, request, OcrResult, within_s=60)

    with pytest.raises(NotFound):  # another tenant's file is not there for this one
        await run(tenant.id, object_name)
    with pytest.raises(NotFound):
        await run(tenant.id, f"{tenant.id}/missing")
    with pytest.raises(ValidationFailed, match="encrypted"):
        await run(other.id, object_name)
    huge = f"{other.id}/{uuid.uuid4().hex[:12]}"
    await bus.files.write_bytes(huge, docs.huge_png())
    with pytest.raises(PayloadTooLarge, match="30000x30000"):
        await run(other.id, huge)


async def test_a_tenants_many_documents_do_not_hold_back_anothers_receipt(
    ocr: httpx.AsyncClient, bus: Bus, tenant_factory: TenantFactory
) -> None:
    """Tenant a queues five 3-page scans, then b one page: b's is not read after a's last.

    Without the per-tenant cap this replica would pull four of a's documents (its worker
    concurrency) and read b's only once one of them ended; with it, a has two in flight,
    the others go back to the tail, and b's job gets a fetch slot and the next pool turn.
    """
    big, small = await tenant_factory(), await tenant_factory()
    scan = docs.scanned_pdf_pages([docs.ENGLISH] * 3)
    async with watching(bus, subjects.JOB_INDEX, IndexJob) as index_jobs:
        many = [await submit(bus, big.id, scan, f"big-{n}.pdf") for n in range(5)]
        receipt = await submit(bus, small.id, docs.scanned_pdf()[0], "receipt.pdf")
        await index_jobs.first(lambda j: j.doc_id == receipt, timeout_s=300)
        for doc_id in many:
            await index_jobs.first(lambda j, d=doc_id: j.doc_id == d, timeout_s=300)  # type: ignore[misc]
    order = [job.doc_id for job in index_jobs.items if job.doc_id in {receipt, *many}]
    assert order.index(receipt) < 3, order

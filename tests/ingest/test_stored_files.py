"""A stored file that reads back short or changed is never indexed in part: the job
retries, and after its last delivery the document fails with the reason."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import IndexJob, IngestJob
from ragapi_ingest.records import Records, new_id
from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle

from .conftest import IngestStack, StackFactory
from .pipeline import eventually, tenant_rag

TEXT = "".join(f"Line {n}: Brindlemoor Quay loads slate for Quillon.\n" for n in range(20_000))


async def _lose_a_chunk(bus: Bus, name: str) -> None:
    """Delete the object's second chunk message, as a lost chunk would leave it."""
    info = await bus.files.store.get_info(name)
    subject = f"$O.{bus.files.bucket}.C.{info.nuid}"
    first = await bus.js.get_msg(bus.files.stream, 1, subject=subject, next=True)
    assert first.seq is not None
    second = await bus.js.get_msg(bus.files.stream, first.seq + 1, subject=subject, next=True)
    assert second.seq is not None
    await bus.js.delete_msg(bus.files.stream, second.seq)


class Reads:
    """Counts the reads of one stored object: each creates a consumer on its chunks."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.count = 0

    async def watch(self, name: str) -> None:
        info = await self.bus.files.store.get_info(name)
        chunks = f"$O.{self.bus.files.bucket}.C.{info.nuid}"
        subject = f"$JS.API.CONSUMER.CREATE.{self.bus.files.stream}.*.{chunks}"
        self.sub = await self.bus.client.subscribe(subject, cb=self._seen)

    async def _seen(self, msg: object) -> None:
        self.count += 1


async def _at_least(reads: Reads, count: int) -> bool:
    return reads.count >= count


async def _document(redis: Redis, tenant: TenantHandle, name: str, type_: str) -> tuple[str, str]:
    """A document record and its task, as an upload leaves them."""
    records = Records(redis)
    doc_id, task_id = new_id("doc"), new_id("task")
    record = {
        "doc_id": doc_id, "task_id": task_id, "name": name, "content_type": type_,
        "size": str(len(TEXT)), "sha256": "0" * 64, "metadata": "{}",
    }  # fmt: skip
    await records.create_document(tenant.id, record)
    await records.create_task(tenant.id, task_id, "ingest", [doc_id])
    return doc_id, task_id


async def _settled(stack: IngestStack, tenant: TenantHandle, doc_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        got = await stack.client.get(f"/v1/documents/{doc_id}", headers=tenant.headers)
        body: dict[str, Any] = got.json()
        return body if body["status"] in ("processed", "failed") else None

    return await eventually(check)


async def test_an_upload_read_back_short_fails_after_its_retries_and_indexes_nothing(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus, redis: Redis
) -> None:
    stack = await make_ingest(max_deliver=3)
    tenant = await tenant_factory()
    doc_id, task_id = await _document(redis, tenant, "notes.txt", "text/plain")
    name = f"{tenant.id}/{doc_id}"
    await bus.files.write_bytes(name, TEXT.encode())
    await _lose_a_chunk(bus, name)
    reads = Reads(bus)
    await reads.watch(name)
    job = IngestJob(
        tenant_id=tenant.id, task_id=task_id, doc_id=doc_id, name="notes.txt",
        content_type="text/plain", object_name=name,
    )  # fmt: skip
    await bus.submit(subjects.JOB_INGEST, job, msg_id=f"test-ingest:{doc_id}")
    doc = await _settled(stack, tenant, doc_id)
    assert doc["status"] == "failed", doc
    assert "StoredFileCorrupt" in doc["error"], doc
    assert "short read" in doc["error"], doc
    assert f"of {len(TEXT):,} bytes" in doc["error"]
    assert not stack.fake.requests  # nothing of it reached a model
    # Read again on each delivery (transient), up to max_deliver.
    await eventually(lambda: _at_least(reads, 3))
    assert reads.count == 3


async def test_an_index_job_whose_text_reads_back_changed_never_indexes_it(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus, redis: Redis
) -> None:
    """The decoded text of a large document travels through the store to the index job."""
    stack = await make_ingest(max_deliver=3)
    tenant = await tenant_factory()
    doc_id, task_id = await _document(redis, tenant, "scan.pdf", "application/pdf")
    name = f"{tenant.id}/{doc_id}/text"
    await bus.files.write_bytes(name, TEXT.encode())
    await _lose_a_chunk(bus, name)
    reads = Reads(bus)
    await reads.watch(name)
    job = IndexJob(
        tenant_id=tenant.id, task_id=task_id, doc_id=doc_id, name="scan.pdf",
        content_type="application/pdf", text_object=name,
    )  # fmt: skip
    await bus.submit(subjects.JOB_INDEX, job, msg_id=f"test-index:{doc_id}")
    doc = await _settled(stack, tenant, doc_id)
    assert doc["status"] == "failed", doc
    assert "StoredFileCorrupt" in doc["error"], doc
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert await instance.rag.full_docs.get_by_id(doc_id) is None  # type: ignore[attr-defined]
    assert not stack.fake.requests
    await eventually(lambda: _at_least(reads, 3))
    assert reads.count == 3

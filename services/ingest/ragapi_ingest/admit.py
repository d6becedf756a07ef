"""Admission of new documents: dedupe, store the bytes, write records, queue the jobs.

Shared by the upload and the text endpoints; runs once every input of a request
was read and checked, so a rejected request leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiofiles

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import IngestJob
from ragapi_common.errors import NotFound
from ragapi_common.outages import unavailable

from .records import Records, metadata_json, new_id
from .space import DiskSpace
from .telemetry import IngestMetrics
from .views import Document

#: Documents of one request stored, recorded or queued at once (bounds Redis connections).
_PARALLEL = 16
_CLAIM_WAITS = 40


@dataclass(frozen=True)
class Candidate:
    """A document ready to be admitted: its bytes are in ``path`` or ``data``."""

    name: str
    content_type: str
    size: int
    sha256: str
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    data: bytes | None = None


def object_name(tenant_id: str, doc_id: str) -> str:
    """Where a document's original bytes live in the object store."""
    return f"{tenant_id}/{doc_id}"


class Admission:
    def __init__(
        self,
        bus: Bus,
        records: Records,
        metrics: IngestMetrics,
        *,
        chunk_bytes: int,
        space: DiskSpace | None = None,
    ) -> None:
        self.bus = bus
        self.records = records
        self.metrics = metrics
        self.chunk_bytes = chunk_bytes
        self.space = space

    async def admit(
        self, tenant_id: str, candidates: Sequence[Candidate]
    ) -> tuple[str, list[Document]]:
        """Admit every candidate under one new task; answer (task_id, documents)."""
        if self.space is not None:  # 507 while the disk is nearly full, before any write
            await self.space.check(sum(candidate.size for candidate in candidates))
        task_id = new_id("task")
        gate = asyncio.Semaphore(_PARALLEL)

        async def one(candidate: Candidate) -> tuple[Document, bool]:
            async with gate:
                return await self._admit_one(tenant_id, task_id, candidate)

        results = await asyncio.gather(*(one(c) for c in candidates))
        docs = [doc for doc, _ in results]
        unique = list(dict.fromkeys(doc.doc_id for doc in docs))  # the same bytes twice: once
        await self.records.create_task(tenant_id, task_id, "ingest", unique)
        fresh = [doc for doc, new in results if new]

        async def submit(doc: Document) -> None:
            async with gate:
                await self._submit(tenant_id, task_id, doc)

        await asyncio.gather(*(submit(doc) for doc in fresh))
        return task_id, docs

    async def _admit_one(
        self, tenant_id: str, task_id: str, candidate: Candidate
    ) -> tuple[Document, bool]:
        doc_id = new_id("doc")
        existing = await self._existing(tenant_id, candidate.sha256, doc_id)
        if existing is not None:
            await self.records.add_task_to_document(tenant_id, existing.doc_id, task_id)
            return existing.model_copy(update={"duplicate": True}), False
        # The record comes first, so a concurrent upload of the same bytes finds it.
        await self.records.create_document(
            tenant_id,
            {
                "doc_id": doc_id,
                "task_id": task_id,
                "name": candidate.name,
                "content_type": candidate.content_type,
                "size": str(candidate.size),
                "sha256": candidate.sha256,
                "metadata": metadata_json(candidate.metadata),
            },
        )
        try:
            await self.bus.files.write(object_name(tenant_id, doc_id), self._chunks(candidate))
        except BaseException as exc:
            await self.records.remove_document(tenant_id, doc_id)
            if unavailable(exc) is None:  # with NATS down the delete could only wait as well
                await self.bus.files.delete(object_name(tenant_id, doc_id))
            raise
        self.metrics.upload_bytes.inc(candidate.size)
        document = await self.records.document(tenant_id, doc_id)
        if document is None:
            raise NotFound(f"document {doc_id} was deleted while it was admitted")
        return document, True

    async def _existing(self, tenant_id: str, sha256: str, doc_id: str) -> Document | None:
        """The document that already has these bytes, or None once ``doc_id`` holds the claim."""
        existing_id = ""
        for _ in range(_CLAIM_WAITS):
            claimed = await self.records.claim_sha(tenant_id, sha256, doc_id)
            if claimed is None:
                return None
            existing_id = claimed
            existing = await self.records.document(tenant_id, existing_id)
            if existing is not None:
                return existing
            # Claimed a moment ago by a concurrent admission that has not written its record.
            await asyncio.sleep(0.05)
        await self.records.release_sha(tenant_id, sha256, existing_id)  # stale: its owner died
        return await self._existing(tenant_id, sha256, doc_id)

    async def _chunks(self, candidate: Candidate) -> AsyncIterator[bytes]:
        if candidate.data is not None:
            yield candidate.data
            return
        assert candidate.path is not None  # noqa: S101 - a candidate has one source
        async with aiofiles.open(candidate.path, "rb") as source:
            while chunk := await source.read(self.chunk_bytes):
                yield chunk

    async def _submit(self, tenant_id: str, task_id: str, doc: Document) -> None:
        await self.publish(
            tenant_id,
            {
                "task_id": task_id,
                "doc_id": doc.doc_id,
                "name": doc.name,
                "content_type": doc.content_type,
            },
        )

    async def publish(self, tenant_id: str, record: Mapping[str, str]) -> None:
        """Queue the document's ingest job (once per message id) and mark it published."""
        doc_id = record["doc_id"]
        job = IngestJob(
            tenant_id=tenant_id,
            task_id=record["task_id"],
            doc_id=doc_id,
            name=record["name"],
            content_type=record["content_type"],
            object_name=object_name(tenant_id, doc_id),
        )
        await self.bus.submit(subjects.JOB_INGEST, job, msg_id=f"ingest:{doc_id}")
        await self.records.mark_published(tenant_id, doc_id)

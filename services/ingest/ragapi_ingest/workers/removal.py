"""Delete jobs (one document) and purge jobs (a deleted tenant's everything)."""

from __future__ import annotations

import logging

from ragapi_common.bus import Bus, JobContext, WorkerSpec
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import DeleteJob, PurgeJob
from ragapi_common.errors import NotFound
from ragapi_common.rag.api import RagRegistry

from ..admit import object_name
from ..fairness import IndexGate
from ..progress import Progress
from ..records import Records
from ..settings import IngestSettings
from ..tenants import TenantDirectory

log = logging.getLogger(__name__)
#: A delete waits for the tenant's writer as long as it takes (heartbeats keep it alive).
_DELETE_PATIENCE_S = 3600.0


class RemovalWorkers:
    def __init__(
        self,
        settings: IngestSettings,
        bus: Bus,
        records: Records,
        progress: Progress,
        registry: RagRegistry,
        gate: IndexGate,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.records = records
        self.progress = progress
        self.registry = registry
        self.gate = gate
        self.tenants = TenantDirectory(bus)

    def specs(self) -> list[WorkerSpec[DeleteJob] | WorkerSpec[PurgeJob]]:
        s = self.settings
        delete: WorkerSpec[DeleteJob] = WorkerSpec(
            durable=subjects.DURABLE_DELETE,
            subject=subjects.JOB_DELETE,
            model=DeleteJob,
            handle=self.delete,
            concurrency=s.delete_concurrency,
            max_deliver=s.max_deliver,
            backoff_s=s.job_backoff_s,
            ack_wait_s=s.index_ack_wait_s,
        )
        purge: WorkerSpec[PurgeJob] = WorkerSpec(
            durable=subjects.DURABLE_PURGE,
            subject=subjects.JOB_PURGE,
            model=PurgeJob,
            handle=self.purge,
            concurrency=s.purge_concurrency,
            max_deliver=s.max_deliver,
            backoff_s=s.job_backoff_s,
            ack_wait_s=s.index_ack_wait_s,
        )
        return [delete, purge]

    async def delete(self, job: DeleteJob, ctx: JobContext) -> None:
        """Remove the document from LightRAG, the object store and Redis; idempotent."""
        raw = await self.records.raw_document(job.tenant_id, job.doc_id)
        if raw is None:
            return
        try:
            tenant = await self.tenants.get(job.tenant_id)
        except NotFound:
            tenant = None  # the tenant is being purged; its records go with it
        if tenant is not None:
            async with self.gate.slot(job.tenant_id, patience_s=_DELETE_PATIENCE_S):
                rag = await self.registry.get(tenant)
                await rag.delete(job.doc_id)
        names = [object_name(job.tenant_id, job.doc_id)]
        names += await self.records.artefacts(job.tenant_id, job.doc_id)
        for name in names:
            await self.bus.files.delete(name)
        task_ids = await self.records.tasks_of(job.tenant_id, job.doc_id)
        await self.records.remove_document(job.tenant_id, job.doc_id)
        for task_id in {*task_ids, job.task_id}:
            await self.progress.announce_task(job.tenant_id, task_id)

    async def purge(self, job: PurgeJob, ctx: JobContext) -> None:
        """Drop the tenant's LightRAG data, stored files and records."""
        await self.registry.drop(job.tenant_id)
        for name in await self.bus.files.names(prefix=f"{job.tenant_id}/"):
            await self.bus.files.delete(name)
        doc_ids = await self.records.purge(job.tenant_id)
        log.info("purged tenant %s (%d documents)", job.tenant_id, len(doc_ids))

"""Every NATS subject, stream, consumer and bucket name, each with what travels on it.

Payloads are JSON (see :mod:`ragapi_common.contracts.payloads`), so
``nats sub 'ragapi.>'`` shows an operator readable events.
"""

from __future__ import annotations

from typing import Final

# --- request/reply, served through nats.micro (`nats micro ls` lists them) ---------------
TENANTS_SERVICE: Final = "ragapi-tenants"
#: ResolveKeyRequest -> TenantContext: which tenant an API key belongs to (401 if none).
TENANTS_RESOLVE: Final = "ragapi.tenants.resolve"
#: TenantLookupRequest -> TenantContext: a tenant's record and effective config (404 if none).
TENANTS_GET: Final = "ragapi.tenants.get"

OCR_SERVICE: Final = "ragapi-ocr"
#: OcrRequest -> OcrResult: OCR of a file already in the object store.
OCR_RUN: Final = "ragapi.ocr.run"

# --- plain events (core NATS, fire and forget) --------------------------------------------
#: Every event below: what the read-only ``debug`` user may watch.
EVENTS_ANY: Final = "ragapi.events.>"
#: TenantEvent: a tenant's name or config changed; drop cached contexts and instances.
EVENT_TENANT_UPDATED: Final = "ragapi.events.tenant.updated"
#: TenantEvent: a tenant is gone; drop everything cached for it.
EVENT_TENANT_DELETED: Final = "ragapi.events.tenant.deleted"
#: TenantEvent with key_hash: this key must stop working at once.
EVENT_KEY_REVOKED: Final = "ragapi.events.tenant.key_revoked"
#: Wildcard for every tenant event above.
EVENT_TENANT_ANY: Final = "ragapi.events.tenant.>"
#: DocumentEvent, per tenant: a document changed status.
EVENT_DOCUMENT: Final = "ragapi.events.document.{tenant_id}"
#: TaskEvent, per task: counts or status of a task changed.
EVENT_TASK: Final = "ragapi.events.task.{task_id}"

# --- JetStream work queues -----------------------------------------------------------------
JOBS_STREAM: Final = "RAGAPI_JOBS"
JOBS_SUBJECTS: Final = "ragapi.jobs.>"
#: IngestJob: a stored upload to decode or route to OCR.
JOB_INGEST: Final = "ragapi.jobs.ingest"
#: OcrJob: a PDF, image or office file to turn into a content list.
JOB_OCR: Final = "ragapi.jobs.ocr"
#: IndexJob: text or a content list to insert into the tenant's LightRAG.
JOB_INDEX: Final = "ragapi.jobs.index"
#: DeleteJob: one document to remove from LightRAG, the object store and Redis.
JOB_DELETE: Final = "ragapi.jobs.delete"
#: PurgeJob: every document, vector, graph node, file and task of a deleted tenant.
JOB_PURGE: Final = "ragapi.jobs.purge"

#: The durable consumers, one per job subject (NATS permissions name them: contracts/access.py).
DURABLE_INGEST: Final = "ragapi-ingest"
DURABLE_OCR: Final = "ocr"
DURABLE_INDEX: Final = "ragapi-index"
DURABLE_DELETE: Final = "ragapi-delete"
DURABLE_PURGE: Final = "ragapi-ingest-purge"

# --- JetStream object store ----------------------------------------------------------------
#: Uploaded files as ``<tenant>/<doc_id>``; derived artefacts under ``<tenant>/<doc_id>/...``.
FILES_BUCKET: Final = "ragapi-files"


def document_events(tenant_id: str) -> str:
    """The subject on which one tenant's document events are published."""
    return EVENT_DOCUMENT.format(tenant_id=tenant_id)


def task_events(task_id: str) -> str:
    """The subject on which one task's progress events are published."""
    return EVENT_TASK.format(task_id=task_id)

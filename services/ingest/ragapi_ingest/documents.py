"""Documents of a tenant: list (cursor pages, status filter), get, delete."""

from __future__ import annotations

from typing import get_args

from starlette.requests import Request
from starlette.responses import JSONResponse

from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import DeleteJob, DocumentStatus
from ragapi_common.errors import NotFound, ValidationFailed
from ragapi_common.web import Slot

from .context import Ingest
from .records import new_id
from .views import DeleteAccepted, DocumentPage

STATUSES: tuple[str, ...] = get_args(DocumentStatus)


class Documents:
    def __init__(self, slot: Slot[Ingest]) -> None:
        self.slot = slot

    async def list(self, request: Request) -> JSONResponse:
        ingest = self.slot.value
        tenant, _ = await ingest.tenant(request)
        status, limit, cursor = _page_params(request, ingest.settings.max_list_limit)
        docs, next_cursor = await ingest.records.page(
            tenant.tenant_id, status=status, limit=limit, cursor=cursor
        )
        page = DocumentPage(
            documents=docs, next_cursor=str(next_cursor) if next_cursor is not None else None
        )
        return JSONResponse(
            page.model_dump(mode="json", exclude_none=True) | {"next_cursor": page.next_cursor}
        )

    async def get(self, request: Request) -> JSONResponse:
        ingest = self.slot.value
        tenant, _ = await ingest.tenant(request)
        doc_id = request.path_params["doc_id"]
        doc = await ingest.records.document(tenant.tenant_id, doc_id)
        if doc is None:
            raise NotFound(f"no document {doc_id}")
        return JSONResponse(doc.model_dump(mode="json", exclude_none=True))

    async def delete(self, request: Request) -> JSONResponse:
        """Mark the document ``deleting`` and queue its removal; 202 with the task."""
        ingest = self.slot.value
        tenant, _ = await ingest.tenant(request)
        tenant_id, doc_id = tenant.tenant_id, request.path_params["doc_id"]
        raw = await ingest.records.raw_document(tenant_id, doc_id)
        if raw is None:
            raise NotFound(f"no document {doc_id}")
        task_id = new_id("task")
        await ingest.records.create_task(tenant_id, task_id, "delete", [doc_id])
        await ingest.records.add_task_to_document(tenant_id, doc_id, task_id)
        # The same bytes may be uploaded again at once, as a new document.
        await ingest.records.release_sha(tenant_id, raw.get("sha256", ""), doc_id)
        await ingest.progress.move(tenant_id, doc_id, "deleting")
        job = DeleteJob(tenant_id=tenant_id, doc_id=doc_id, task_id=task_id)
        await ingest.bus.submit(subjects.JOB_DELETE, job, msg_id=f"delete:{doc_id}:{task_id}")
        return JSONResponse(DeleteAccepted(task_id=task_id).model_dump(), status_code=202)


def _page_params(request: Request, max_limit: int) -> tuple[str | None, int, int | None]:
    params = request.query_params
    errors: list[dict[str, str]] = []
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        errors.append({"field": "status", "message": f"one of {', '.join(STATUSES)}"})
    limit = _int(params.get("limit"), 100)
    if limit is None or not 1 <= limit <= max_limit:
        errors.append({"field": "limit", "message": f"an integer from 1 to {max_limit}"})
    cursor = _int(params.get("cursor"), None)
    if params.get("cursor") and cursor is None:
        errors.append({"field": "cursor", "message": "not a cursor this API gave"})
    if errors:
        raise ValidationFailed("invalid query parameters", details=errors)
    return status, limit or 100, cursor


def _int(raw: str | None, default: int | None) -> int | None:
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        return None

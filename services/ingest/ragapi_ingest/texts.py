"""``POST /v1/documents/text``: one or many texts, each capped, the request capped too (by the
service's ``max_text_request_bytes`` and the tenant's upload limit, whichever is smaller)."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse

from ragapi_common.errors import PayloadTooLarge
from ragapi_common.web import Slot, read_json

from .admit import Candidate
from .context import Ingest
from .filenames import clean_filename
from .views import Accepted, TextBatch

TEXT_TYPE = "text/plain"


class Texts:
    def __init__(self, slot: Slot[Ingest]) -> None:
        self.slot = slot

    async def post(self, request: Request) -> JSONResponse:
        ingest = self.slot.value
        settings = ingest.settings
        tenant, effective = await ingest.tenant(request)
        # What one request may carry, files or texts: the tenant's upload limit.
        limit = min(settings.max_text_request_bytes, effective.max_upload_bytes)
        batch = await read_json(request, TextBatch, limit=limit)
        if len(batch.documents) > settings.max_texts_per_request:
            raise PayloadTooLarge(
                f"{len(batch.documents)} texts in one request; the limit is "
                f"{settings.max_texts_per_request}"
            )
        candidates: list[Candidate] = []
        too_large: list[dict[str, str]] = []
        for index, item in enumerate(batch.documents):
            data = item.text.encode("utf-8", "replace")
            if len(data) > settings.max_text_bytes:
                too_large.append(
                    {
                        "field": f"documents.{index}.text",
                        "message": f"over {settings.max_text_bytes} bytes",
                    }
                )
                continue
            name = clean_filename(
                item.name or f"text-{index + 1}.txt", max_chars=settings.max_filename_chars
            )
            candidates.append(
                Candidate(
                    name=name,
                    content_type=TEXT_TYPE,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    metadata=item.metadata or {},
                    data=data,
                )
            )
        if too_large:
            raise PayloadTooLarge("a text is too large", details=too_large)
        await ingest.records.check_capacity(
            tenant.tenant_id, len(candidates), effective.max_documents
        )
        task_id, docs = await ingest.admission.admit(tenant.tenant_id, candidates)
        body = Accepted(task_id=task_id, documents=docs)
        return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=202)

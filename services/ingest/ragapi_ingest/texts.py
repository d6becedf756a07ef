"""``POST /v1/documents/text``: one or many texts, each capped, the request capped too."""

from __future__ import annotations

import asyncio
import hashlib
import json

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from ragapi_common.errors import BadRequest, PayloadTooLarge, ValidationFailed
from ragapi_common.web import Slot

from .admit import Candidate
from .context import Ingest, read_capped
from .filenames import clean_filename
from .views import Accepted, TextBatch

TEXT_TYPE = "text/plain"
_INLINE_PARSE = 256 * 1024


class Texts:
    def __init__(self, slot: Slot[Ingest]) -> None:
        self.slot = slot

    async def post(self, request: Request) -> JSONResponse:
        ingest = self.slot.value
        settings = ingest.settings
        tenant, effective = await ingest.tenant(request)
        raw = await read_capped(request, settings.max_text_request_bytes)
        # A body of many megabytes takes longer to parse than the loop may be held.
        batch = _parse(raw) if len(raw) < _INLINE_PARSE else await asyncio.to_thread(_parse, raw)
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


def _parse(raw: bytes) -> TextBatch:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    try:
        return TextBatch.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc

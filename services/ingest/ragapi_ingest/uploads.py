"""``POST /v1/documents``: multipart uploads streamed to disk, checked, then admitted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiofiles.tempfile import TemporaryDirectory
from pydantic import RootModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from ragapi_common.bodies import declared_length, parse_json
from ragapi_common.errors import UnsupportedMediaType, ValidationFailed
from ragapi_common.web import Slot

from .admit import Candidate
from .context import Ingest
from .filenames import clean_filename
from .multipart import Limits, MultipartReader, ReceivedForm, boundary_of
from .sniff import sniff
from .views import Accepted


class Uploads:
    def __init__(self, slot: Slot[Ingest]) -> None:
        self.slot = slot

    async def post(self, request: Request) -> JSONResponse:
        ingest = self.slot.value
        tenant, effective = await ingest.tenant(request)
        settings = ingest.settings
        limits = Limits(
            body_bytes=effective.max_upload_bytes + settings.multipart_overhead_bytes,
            file_bytes=effective.max_upload_bytes,
            field_bytes=settings.max_metadata_bytes,
            files=settings.max_files_per_request,
        )
        declared_length(request, limits.body_bytes)
        boundary = boundary_of(request.headers.get("content-type", ""))
        async with TemporaryDirectory(prefix="ragapi-upload-") as directory:
            reader = MultipartReader(boundary, Path(directory), limits)
            form = await reader.read(request.stream())
            candidates = await self._candidates(form, settings.max_filename_chars)
            await ingest.records.check_capacity(
                tenant.tenant_id, len(candidates), effective.max_documents
            )
            task_id, docs = await ingest.admission.admit(tenant.tenant_id, candidates)
        body = Accepted(task_id=task_id, documents=docs)
        return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=202)

    async def _candidates(self, form: ReceivedForm, max_chars: int) -> list[Candidate]:
        if not form.files:
            raise ValidationFailed(
                "no file in the request",
                details=[{"field": "files", "message": "at least one file part is required"}],
            )
        metadata = _metadata(form.fields.get("metadata"))
        candidates: list[Candidate] = []
        unreadable: list[dict[str, str]] = []
        empty: list[dict[str, str]] = []
        for index, received in enumerate(form.files):
            name = clean_filename(received.filename, max_chars=max_chars)
            if received.size == 0:
                empty.append({"field": f"files.{index}", "message": f"{name} is empty"})
                continue
            try:
                sniffed = await sniff(received.path, received.head, name)
            except UnsupportedMediaType as exc:
                unreadable.append({"field": f"files.{index}", "name": name, "message": exc.message})
                continue
            candidates.append(
                Candidate(
                    name=name,
                    content_type=sniffed.content_type,
                    size=received.size,
                    sha256=received.sha256,
                    metadata=metadata,
                    path=received.path,
                )
            )
        if unreadable:
            raise UnsupportedMediaType("a file is of no type ragapi can read", details=unreadable)
        if empty:
            raise ValidationFailed("a file is empty", details=empty)
        return candidates


class _Metadata(RootModel[dict[str, Any]]):
    """The ``metadata`` part: a JSON object."""


def _metadata(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        return parse_json(raw, _Metadata, what="the metadata part").root
    except ValidationFailed as exc:
        raise ValidationFailed(
            "metadata must be a JSON object",
            details=[{"field": "metadata", "message": "expected a JSON object"}],
        ) from exc

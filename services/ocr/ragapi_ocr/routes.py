"""``POST /v1/ocr``: a PDF, image or office file in a multipart ``file`` part, read at once."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive

from ragapi_common.auth import TenantAuth
from ragapi_common.contracts.payloads import OcrResult
from ragapi_common.errors import (
    BadRequest,
    DeadlineExceeded,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from ragapi_common.openapi import OpenApi
from ragapi_common.tenancy import resolve
from ragapi_common.web import Slot

from .pipeline import OcrPipeline, http_error
from .rejections import Rejected
from .settings import OcrSettings
from .staging import Staging

_ENGINES = ("local", "deepseek")
#: Room for multipart boundaries and the small form fields around the file.
_MULTIPART_OVERHEAD = 64 * 1024


class OcrForm(BaseModel):
    """The multipart form of ``POST /v1/ocr``."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
    engine: Literal["local", "deepseek"] | None = None


def limited(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that answers 413 as soon as the body passes ``max_bytes``."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise PayloadTooLarge(f"the upload is larger than {max_bytes} bytes")
        return message

    return wrapped


class OcrRoutes:
    def __init__(
        self,
        settings: OcrSettings,
        auth: Slot[TenantAuth],
        pipeline: Slot[OcrPipeline],
        staging: Slot[Staging],
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.pipeline = pipeline
        self.staging = staging

    def routes(self) -> list[Route]:
        return [Route("/v1/ocr", self.ocr, methods=["POST"])]

    async def ocr(self, request: Request) -> Response:
        tenant = await self.auth.value.tenant(request)
        max_bytes = resolve(self.settings, tenant).max_upload_bytes
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_bytes + _MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"the upload is larger than {max_bytes} bytes")
        bounded = Request(request.scope, limited(request.receive, max_bytes + _MULTIPART_OVERHEAD))
        staging = self.staging.value
        async with bounded.form(max_files=1, max_fields=8) as form:
            upload, engine = form.get("file"), form.get("engine") or None
            if not isinstance(upload, UploadFile):
                raise BadRequest("expected a multipart/form-data body with a 'file' part")
            if engine is not None and (not isinstance(engine, str) or engine not in _ENGINES):
                raise ValidationFailed(
                    "engine must be local or deepseek",
                    details=[{"field": "engine", "message": "local or deepseek", "type": "enum"}],
                )
            engine_name = engine if isinstance(engine, str) else None
            path = await staging.from_upload(upload, max_bytes)
        try:
            async with asyncio.timeout(self.settings.request_deadline_s):
                extraction = await self.pipeline.value.read(path, tenant, engine_name)
        except Rejected as rejected:
            raise http_error(rejected) from rejected
        except TimeoutError as exc:
            deadline = self.settings.request_deadline_s
            raise DeadlineExceeded(f"OCR took longer than the {deadline:g}s deadline") from exc
        finally:
            await staging.discard(path)
        return JSONResponse(extraction.finish().model_dump())


def openapi() -> OpenApi:
    spec = OpenApi("ragapi ocr")
    spec.operation(
        "POST",
        "/v1/ocr",
        "Read a PDF, image or office file into markdown and a content list",
        tag="ocr",
        body=OcrForm,
        body_media="multipart/form-data",
        ok=(200, OcrResult),
        errors=(
            BadRequest,
            Unauthorized,
            PayloadTooLarge,
            UnsupportedMediaType,
            ValidationFailed,
            DeadlineExceeded,
        ),
    )
    return spec

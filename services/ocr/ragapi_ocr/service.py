"""``ragapi.ocr.run`` over NATS request/reply: OCR of a file already in the object store."""

from __future__ import annotations

from ragapi_common.bus import Bus, Endpoint
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import OcrRequest, OcrResult
from ragapi_common.errors import NotFound

from .pipeline import OcrPipeline, http_error, store
from .rejections import Rejected
from .staging import Staging
from .worker import lookup_tenant

VERSION = "1.0.0"


class OcrService:
    def __init__(self, bus: Bus, pipeline: OcrPipeline, staging: Staging) -> None:
        self.bus = bus
        self.pipeline = pipeline
        self.staging = staging

    async def start(self) -> None:
        endpoint = Endpoint("run", subjects.OCR_RUN, OcrRequest, self.run)
        await self.bus.serve(
            subjects.OCR_SERVICE, VERSION, [endpoint], description="OCR of stored files"
        )

    async def run(self, request: OcrRequest) -> OcrResult:
        """Read the tenant's stored file; images land under ``<object_name>/images/``."""
        if not request.object_name.startswith(f"{request.tenant_id}/"):
            raise NotFound(f"no stored file {request.object_name!r}")
        tenant = await lookup_tenant(self.bus, request.tenant_id)
        path = await self.staging.from_store(self.bus.files, request.object_name)
        try:
            extraction = await self.pipeline.read(path, tenant, request.engine)
        except Rejected as rejected:
            raise http_error(rejected) from rejected
        finally:
            await self.staging.discard(path)
        return await store(self.bus.files, request.object_name, extraction)

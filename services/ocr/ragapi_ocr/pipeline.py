"""One way through for every caller (HTTP, request/reply, job): choose, inspect, extract, store.

:class:`OcrPipeline` picks the engine (the call's ``engine``, else the
tenant's ``ocr.engine``, else the deployment's), checks the file in the pool
(kind, pages, pixels, encryption) and hands it to the engine. Rejections stay
:class:`.rejections.Rejected` here; :func:`http_error` and :func:`job_error`
say them the way each caller needs.
"""

from __future__ import annotations

import json
from pathlib import Path

from ragapi_common.bus import FileStore, PermanentJobError
from ragapi_common.contracts.payloads import OcrResult, TenantContext
from ragapi_common.contracts.tenant import OcrConfig
from ragapi_common.errors import (
    BadRequest,
    PayloadTooLarge,
    RagapiError,
    UnsupportedMediaType,
    ValidationFailed,
)
from ragapi_common.tenancy import resolve

from .content import Extraction
from .cpu import CpuPool
from .engines.base import Caller, OcrEngine, Source
from .metrics import OcrMetrics
from .rejections import Rejected
from .settings import OcrSettings
from .tasks import Limits, inspect


class OcrPipeline:
    def __init__(
        self,
        settings: OcrSettings,
        pool: CpuPool,
        engines: dict[str, OcrEngine],
        metrics: OcrMetrics,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.engines = engines
        self.metrics = metrics
        self.limits = Limits(settings.ocr_max_pages, settings.ocr_max_image_pixels)

    def choose(self, tenant: TenantContext, requested: str | None) -> tuple[OcrEngine, Caller]:
        """The engine for this call and the tenant's endpoint; 422 if it cannot be used."""
        effective = resolve(self.settings, tenant)
        name = requested or effective.ocr_engine
        engine = self.engines.get(name)
        if engine is None:
            raise _engine_error(f"unknown OCR engine {name!r}; use local or deepseek")
        if name == "deepseek" and not effective.ocr.configured:
            raise _engine_error("the deepseek engine needs an ocr base_url and model")
        ocr = tenant.config.ocr or OcrConfig()
        fallback = self.settings.deepseek_fallback if ocr.fallback is None else ocr.fallback
        caller = Caller(tenant.tenant_id, effective.ocr, ocr.weight or 1.0, fallback)
        return engine, caller

    async def read(self, path: Path, tenant: TenantContext, requested: str | None) -> Extraction:
        """The document at ``path`` read by the chosen engine; Rejected if unusable."""
        engine, caller = self.choose(tenant, requested)
        try:
            info = await self.pool.run(
                self.settings.ocr_page_timeout_s, inspect, str(path), self.limits
            )
            return await engine.extract(Source(path, info), caller)
        except Rejected as rejected:
            self.metrics.errors.labels(rejected.reason).inc()
            raise
        except RagapiError as error:
            self.metrics.errors.labels(error.code).inc()
            raise


async def store(files: FileStore, prefix: str, extraction: Extraction) -> OcrResult:
    """Put the images under ``<prefix>/images/`` and answer the result that points at them."""

    def name(page_idx: int, index: int) -> str:
        return f"{prefix}/images/p{page_idx}-{index}.png"

    for page_idx, index, png in extraction.image_blobs():
        await files.write_bytes(name(page_idx, index), png)
    return extraction.finish(name)


async def store_result(files: FileStore, prefix: str, result: OcrResult) -> str:
    """Put the whole result (markdown and content list) at ``<prefix>/content.json``."""
    object_name = f"{prefix}/content.json"
    await files.write_bytes(
        object_name, json.dumps(result.model_dump(), ensure_ascii=False).encode()
    )
    return object_name


#: Answers retrying cannot change: bad input (4xx but 429) and a provider's refusal (502).
_PERMANENT_STATUSES = frozenset({400, 401, 404, 413, 415, 422, 502})


def _engine_error(message: str) -> ValidationFailed:
    return ValidationFailed(
        message, details=[{"field": "engine", "message": message, "type": "value_error"}]
    )


def http_error(rejected: Rejected) -> RagapiError:
    """400 empty, 413 too big, 415 unsupported, 422 damaged or encrypted."""
    detail = [{"field": "file", "message": rejected.message, "type": rejected.reason}]
    if rejected.reason == "empty":
        return BadRequest(rejected.message, details=detail)
    if rejected.reason in ("too_large", "too_many_pages", "too_many_pixels"):
        return PayloadTooLarge(rejected.message, details=detail)
    if rejected.reason == "unsupported":
        return UnsupportedMediaType(rejected.message, details=detail)
    return ValidationFailed(rejected.message, details=detail)


def job_error(error: Exception) -> Exception:
    """The verdict for a job: bad files and refused requests end it, the rest is retried."""
    if isinstance(error, Rejected):
        return PermanentJobError(f"{error.reason}: {error.message}")
    if isinstance(error, RagapiError) and error.status in _PERMANENT_STATUSES:
        return PermanentJobError(f"{getattr(error, 'code', 'error')}: {error}")
    return error

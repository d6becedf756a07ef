"""Settings of the OCR service (``RAGAPI_OCR_*`` beside the common ``RAGAPI_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ragapi_common.settings import CommonSettings


class OcrSettings(CommonSettings):
    """Limits, rendering and pool sizes of the OCR service."""

    service_name: str = "ocr"
    #: Worker processes doing render/OCR (unset: one per core); 0 runs them in threads instead.
    ocr_processes: int | None = Field(default=None, ge=0, le=64)
    #: Start every pool process (seconds of imports, ~150 MB each) when the service starts;
    #: false starts them on the first OCR jobs (``ragapi up``: a laptop may never OCR).
    ocr_warm_up: bool = True
    ocr_max_pages: int = Field(default=500, ge=1)
    #: Decompression-bomb guard for images and rendered pages (pixels, width x height).
    ocr_max_image_pixels: int = Field(default=40_000_000, ge=1)
    ocr_page_timeout_s: float = Field(default=120.0, gt=0)
    ocr_render_dpi: int = Field(default=200, ge=36, le=600)
    #: Text detection sees the page scaled to this long side (recognition reads full size).
    ocr_det_max_side: int = Field(default=960, ge=320, le=8000)
    #: What runs RapidOCR's ONNX models in the pool (docs/decisions/0401-ocr-speed.md).
    ocr_runtime: Literal["openvino", "onnxruntime"] = "openvino"
    #: A page is taken as text when its text layer has more characters than this ...
    ocr_text_layer_min_chars: int = Field(default=50, ge=0)
    #: ... and images cover less than this share of it.
    ocr_text_layer_max_image_share: float = Field(default=0.5, ge=0, le=1)
    #: Embedded images smaller than this share of their page are not OCR'd or kept.
    ocr_min_image_share: float = Field(default=0.02, ge=0, le=1)
    ocr_max_images_per_page: int = Field(default=8, ge=0)

    deepseek_dpi: int = Field(default=144, ge=36, le=600)
    #: Page images sent to the model are scaled down to this long side (images, big pages).
    deepseek_max_side: int = Field(default=2048, ge=256, le=8192)
    deepseek_max_tokens: int = Field(default=4096, ge=1)
    deepseek_timeout_s: float = Field(default=180.0, gt=0)
    deepseek_retries: int = Field(default=3, ge=0)
    #: Pages of one tenant sent to the endpoint at once (per process).
    deepseek_tenant_concurrency: int = Field(default=4, ge=1)
    deepseek_breaker_failures: int = Field(default=5, ge=1)
    deepseek_breaker_reset_s: float = Field(default=30.0, gt=0)
    #: A page DeepSeek-OCR cannot read goes to the local engine (a tenant's ``ocr.fallback``
    #: overrides this); the document then carries a warning naming the page.
    deepseek_fallback: bool = False

    #: OCR jobs (documents) a replica pulls at once ...
    ocr_worker_concurrency: int = Field(default=4, ge=1)
    #: ... of which at most this many of one tenant; another of its jobs waits this long
    #: for one of them to end, then goes back to the tail of the queue.
    ocr_worker_tenant_documents: int = Field(default=2, ge=1)
    ocr_worker_defer_after_s: float = Field(default=2.0, gt=0)
    ocr_worker_max_deliver: int = Field(default=4, ge=1)

"""The ``deepseek`` engine: DeepSeek-OCR served by vLLM's OpenAI-compatible API.

Each page is rendered in the pool (144 dpi by default), sent as one
``image_url`` data URL with the grounding prompt, and the answer's grounding
blocks become content items (:mod:`..grounding`); regions labelled ``image``
are cropped from the page and kept. Pages of a document go out in parallel up
to the tenant's concurrency share; retries, ``Retry-After``, the per-page
deadline (``RAGAPI_DEEPSEEK_TIMEOUT_S``, retries included) and the engine's
circuit breaker (per endpoint, ``kind="ocr"``, apart from the LLM's) are the
shared model transport's (:mod:`ragapi_common.models.transport`). A page the
endpoint cannot read (outage, open breaker, deadline, refusal) fails the
document, or, when the tenant allows it (``ocr.fallback``), is read by the
local engine and named in the result's ``warnings``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from ragapi_common.errors import DependencyUnavailable, RagapiError
from ragapi_common.models.breaker import Breakers
from ragapi_common.models.gate import TenantGate
from ragapi_common.models.transport import ProviderCaller, deadline_within
from ragapi_common.tenancy import Endpoint

from .. import grounding
from ..content import Extraction, PageOutput
from ..cpu import CpuPool
from ..metrics import OcrMetrics
from ..tasks import Limits, crop_regions, render_page
from .base import Caller, Source, all_or_nothing
from .local import LocalEngine

PROMPT = "<image>\n<|grounding|>Convert the document to markdown."
#: vLLM's n-gram repetition guard for DeepSeek-OCR; the ids are <td> and </td>.
VLLM_XARGS = {"ngram_size": 30, "window_size": 90, "whitelist_token_ids": [128821, 128822]}


def request_body(model: str, png: bytes, max_tokens: int) -> dict[str, Any]:
    """The chat completion request for one page image (exactly one ``<image>``)."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    return {
        "model": model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "text", "text": PROMPT},
                ],
            }
        ],
        "temperature": 0,
        "max_tokens": max_tokens,
        "skip_special_tokens": False,
        "vllm_xargs": VLLM_XARGS,
    }


class DeepSeekEngine:
    name = "deepseek"

    def __init__(
        self,
        pool: CpuPool,
        caller: ProviderCaller,
        local: LocalEngine,
        *,
        limits: Limits,
        dpi: int,
        max_side: int,
        max_tokens: int,
        timeout_s: float,
        page_timeout_s: float,
        tenant_concurrency: int,
        metrics: OcrMetrics,
    ) -> None:
        self.pool = pool
        self.caller = caller
        self.local = local
        self.limits = limits
        self.dpi = dpi
        self.max_side = max_side
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s  # one model call
        self.page_timeout_s = page_timeout_s  # one page's CPU work (render, crop)
        self.tenant_concurrency = tenant_concurrency
        self.metrics = metrics
        self._gate = TenantGate(None, "ocr")

    @property
    def breakers(self) -> Breakers:
        return self.caller.breakers

    async def extract(self, source: Source, caller: Caller) -> Extraction:
        if source.info.kind == "office":
            # Office files carry their text; there is nothing for a vision model to read.
            return await self.local.office(source, caller)
        # Rendered pages wait for the tenant's turn in memory: bound how many do.
        window = asyncio.Semaphore(self.tenant_concurrency + self.pool.size)

        async def page(index: int) -> PageOutput:
            async with window:
                return await self._page(source, index, caller)

        pages = await all_or_nothing([page(i) for i in range(source.info.pages)])
        return Extraction(self.name, pages)

    async def _page(self, source: Source, index: int, caller: Caller) -> PageOutput:
        try:
            return await self._model_page(source, index, caller)
        except RagapiError as error:
            if not caller.fallback:
                raise
            page = await self.local.page(source, index, caller)
            page.warning = f"page {index + 1} read by the local engine: {error}"
            self.metrics.fallbacks.inc()
            return page

    async def _model_page(self, source: Source, index: int, caller: Caller) -> PageOutput:
        started = time.perf_counter()
        png = await self.pool.run_for(
            caller.share,
            self.page_timeout_s,
            render_page,
            str(source.path),
            source.info.kind,
            index,
            self.dpi,
            self.limits,
            self.max_side,
        )
        answer = await self.read(caller, png)
        parsed = grounding.parse_page(answer, index)
        crops: list[bytes] = []
        if parsed.image_boxes:
            crops = await self.pool.run(self.page_timeout_s, crop_regions, png, parsed.image_boxes)
        self.metrics.pages.labels(self.name, "model").inc()
        self.metrics.page_seconds.labels(self.name).observe(time.perf_counter() - started)
        return PageOutput(index, parsed.items, images=crops, read_by_ocr=True)

    async def read(self, caller: Caller, png: bytes) -> str:
        """The model's raw answer for one page image (grounding markup included)."""
        endpoint: Endpoint = caller.endpoint
        body = request_body(endpoint.model, png, self.max_tokens)
        what = f"DeepSeek-OCR at {endpoint.base_url}"
        async with (
            deadline_within(self.timeout_s, what) as deadline,
            self._gate.admit(
                caller.tenant_id, concurrency=self.tenant_concurrency, deadline=deadline
            ),
        ):
            response = await self.caller.send(
                endpoint, "/chat/completions", body, deadline=deadline
            )
        try:
            return str(response.json()["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise DependencyUnavailable(
                f"{what} answered something that is not a completion"
            ) from exc

"""The ``local`` engine: PyMuPDF text layers and tables, RapidOCR for scans and images.

Everything runs in the :class:`..cpu.CpuPool`; pages of one document are read
concurrently up to the pool's size, each waiting its tenant's turn in the
pool's fair queue.
"""

from __future__ import annotations

import time

from ..content import Extraction, PageOutput
from ..cpu import CpuPool
from ..metrics import OcrMetrics
from ..tasks import LocalOptions, local_page, office_document
from .base import Caller, Source, all_or_nothing


class LocalEngine:
    name = "local"

    def __init__(
        self, pool: CpuPool, options: LocalOptions, *, page_timeout_s: float, metrics: OcrMetrics
    ) -> None:
        self.pool = pool
        self.options = options
        self.page_timeout_s = page_timeout_s
        self.metrics = metrics

    async def extract(self, source: Source, caller: Caller) -> Extraction:
        if source.info.kind == "office":
            return await self.office(source, caller)
        pages = [self.page(source, i, caller) for i in range(source.info.pages)]
        return Extraction(self.name, await all_or_nothing(pages))

    async def office(self, source: Source, caller: Caller) -> Extraction:
        """Office files carry their text: no OCR, one bounded job for the whole file."""
        started = time.perf_counter()
        pages = await self.pool.run_for(
            caller.share, self.page_timeout_s, office_document, str(source.path)
        )
        self.metrics.pages.labels(self.name, "office").inc(len(pages))
        self.metrics.page_seconds.labels(self.name).observe(time.perf_counter() - started)
        return Extraction(self.name, pages)

    async def page(self, source: Source, index: int, caller: Caller) -> PageOutput:
        """Page ``index`` of ``source`` (a PDF or image)."""
        started = time.perf_counter()
        page = await self.pool.run_for(
            caller.share,
            self.page_timeout_s,
            local_page,
            str(source.path),
            source.info.kind,
            index,
            self.options,
        )
        self.metrics.pages.labels(self.name, "ocr" if page.read_by_ocr else "text").inc()
        self.metrics.page_seconds.labels(self.name).observe(time.perf_counter() - started)
        return page

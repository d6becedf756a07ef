"""Prometheus collectors of the OCR service (on the process's shared registry).

Pages per second is ``rate(ragapi_ocr_pages_total[1m])``; latency is per page
and engine; errors by kind; the job backlog is sampled by the app.
"""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ragapi_common.metrics import Metrics

_PAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)


class OcrMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.pages = Counter(
            "ragapi_ocr_pages_total",
            "Pages read, by engine and how (text layer, ocr, model, office).",
            ["engine", "path"],
            registry=registry,
        )
        self.page_seconds = Histogram(
            "ragapi_ocr_page_duration_seconds",
            "Time to read one page, by engine.",
            ["engine"],
            buckets=_PAGE_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "ragapi_ocr_errors_total",
            "Documents that failed, by kind (corrupt, encrypted, too_many_pixels, timeout...).",
            ["kind"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "ragapi_ocr_queue_depth",
            "OCR jobs waiting in JetStream (pending plus being worked on).",
            registry=registry,
        )
        self.busy = Gauge("ragapi_ocr_pool_busy", "OCR pool slots in use.", registry=registry)
        self.waiting = Gauge(
            "ragapi_ocr_pool_waiting", "Pages waiting in the pool's fair queue.", registry=registry
        )
        self.fallbacks = Counter(
            "ragapi_ocr_fallback_pages_total",
            "Pages DeepSeek-OCR could not read that the local engine read instead.",
            registry=registry,
        )


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, OcrMetrics] = weakref.WeakKeyDictionary()


def ocr_metrics(metrics: Metrics) -> OcrMetrics:
    """The OCR collectors on ``metrics.registry``, registered the first time only."""
    found = _BY_REGISTRY.get(metrics.registry)
    if found is None:
        found = OcrMetrics(metrics.registry)
        _BY_REGISTRY[metrics.registry] = found
    return found

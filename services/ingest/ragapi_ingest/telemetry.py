"""The ingest service's own Prometheus collectors (on the process's shared registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ragapi_common.metrics import Metrics

_INDEX_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class IngestMetrics:
    """Document status moves, bytes received, and how long inserts take."""

    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self.documents = Counter(
            "ragapi_ingest_document_status_total",
            "Documents entering each status.",
            ["status"],
            registry=registry,
        )
        self.upload_bytes = Counter(
            "ragapi_ingest_upload_bytes_total",
            "File bytes accepted by uploads and texts.",
            registry=registry,
        )
        self.index_seconds = Histogram(
            "ragapi_ingest_index_duration_seconds",
            "Time to insert one document into its tenant's index.",
            ["kind"],
            buckets=_INDEX_BUCKETS,
            registry=registry,
        )

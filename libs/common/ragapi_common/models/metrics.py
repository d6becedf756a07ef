"""Prometheus collectors of the model clients, registered once per registry.

Every client of a process (LLM, embedder, reranker) is handed the same
:class:`~ragapi_common.metrics.Metrics`; :func:`model_metrics` gives them the
same collectors instead of registering the families twice.
"""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ragapi_common.metrics import Metrics
from ragapi_common.models.breaker import Breakers, State

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_BREAKER_VALUE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class ModelMetrics:
    """Calls, latency, tokens, retries and breaker states of model providers."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "ragapi_model_calls_total",
            "Model provider calls by kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "ragapi_model_call_duration_seconds",
            "Model provider call latency, retries included.",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "ragapi_model_tokens_total",
            "Tokens sent and received (provider usage, else estimated as chars/4).",
            ["kind", "direction"],
            registry=registry,
        )
        self.retries = Counter(
            "ragapi_model_retries_total",
            "Retried attempts by kind and reason.",
            ["kind", "reason"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "ragapi_model_breaker_state",
            "Circuit breaker per endpoint: 0 closed, 1 half-open, 2 open.",
            ["endpoint"],
            registry=registry,
        )

    def watch(self, breakers: Breakers) -> None:
        """Follow ``breakers``' transitions in :attr:`breaker_state`."""
        breakers.on_change(self._breaker_changed)

    def _breaker_changed(self, endpoint: str, state: State) -> None:
        self.breaker_state.labels(endpoint).set(_BREAKER_VALUE[state])


# A registry-scoped memo, not shared state: it only prevents a duplicate
# registration when several clients are built around the same Metrics.
_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, ModelMetrics] = (
    weakref.WeakKeyDictionary()
)


def model_metrics(metrics: Metrics | None) -> ModelMetrics | None:
    """The model collectors on ``metrics.registry``, registering them the first time."""
    if metrics is None:
        return None
    found = _BY_REGISTRY.get(metrics.registry)
    if found is None:
        found = ModelMetrics(metrics.registry)
        _BY_REGISTRY[metrics.registry] = found
    return found

"""Client spans for HTTP (model calls: LLM, embedding, rerank, OCR endpoint) and Redis.

OpenTelemetry's own instrumentation packages make them (``opentelemetry-
instrumentation-httpx`` and ``-redis``), per client object, never globally:
only the clients handed to :func:`instrument_http` / :func:`instrument_redis`
while tracing is on. Their spans go to the tracer of the service whose code
makes the call (see :func:`.tracing.serving`), through a provider that asks
:mod:`.tracing` for it at each span. Off, nothing here is imported.
PostgreSQL has no span yet: ``opentelemetry-instrumentation-asyncpg`` has no
release for the pinned SDK (0.66b2; docs/decisions/0010-tracing.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from redis.asyncio import Redis

from ragapi_common import tracing

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider


def instrument_http(client: httpx.AsyncClient) -> None:
    """A client span per request of ``client``, when tracing is on."""
    if not tracing.enabled():
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument_client(client, tracer_provider=_provider())


def instrument_redis(client: Redis) -> None:
    """A client span per command (or pipeline) of ``client``, when tracing is on."""
    if not tracing.enabled():
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().instrument_client(client, tracer_provider=_provider())


def _provider() -> TracerProvider:
    from opentelemetry import trace

    class ServiceTracer(trace.Tracer):
        """Each span from the tracer of the service making the call (none once off)."""

        def _tracer(self) -> trace.Tracer:
            return tracing.service_tracer() or trace.NoOpTracer()

        def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
            return self._tracer().start_span(*args, **kwargs)

        def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
            return self._tracer().start_as_current_span(*args, **kwargs)

    class ServiceProvider(trace.TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
            return ServiceTracer()

    return ServiceProvider()

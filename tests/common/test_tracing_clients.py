"""Model calls (HTTP) and Redis commands get client spans from OpenTelemetry's own
instrumentation, under the span and the service that made them."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ragapi_common import tracing
from ragapi_common.redis_pool import redis_client
from ragapi_common.tracing_clients import instrument_http
from tests.common.test_tracing import finished, no_otel_env, spans
from tests.support.fake_provider import FakeProvider

__all__ = ["no_otel_env", "spans"]


async def test_a_model_call_and_redis_commands_are_children_of_the_work_that_made_them(
    spans: InMemorySpanExporter, redis_url: str
) -> None:
    redis = redis_client(redis_url, max_connections=4, timeout_s=2.0)
    async with FakeProvider() as fake, httpx.AsyncClient() as http:
        instrument_http(http)
        token = tracing.serving("ingest")
        try:
            with tracing.outgoing("process ragapi.jobs.index", "producer"):
                await redis.set("trace-probe", "1")
                response = await http.post(
                    f"{fake.base_url}/embeddings", json={"model": "e", "input": ["a"]}
                )
        finally:
            tracing.reset_serving(token)
            await redis.aclose()
    assert response.status_code == 200
    by_name = await finished(spans)
    parent = by_name["process ragapi.jobs.index"]
    model, command = by_name["POST"], by_name["SET"]
    assert parent.context is not None
    for child in (model, command):
        assert child.kind == SpanKind.CLIENT
        assert child.parent is not None
        assert child.parent.span_id == parent.context.span_id
        assert child.resource.attributes["service.name"] == "ragapi-ingest"
    assert model.attributes is not None
    assert str(model.attributes.get("url.full", model.attributes.get("http.url"))).endswith(
        "/embeddings"
    )

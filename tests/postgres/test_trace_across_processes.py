"""One upload's trace across processes: ``ragapi serve tenants`` and ``ragapi serve ingest``
export to one OTLP collector; the upload's HTTP span, the key lookup in the tenants
process, the jobs on NATS and the LLM call of the index worker share one trace."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.cli.stack import cli_env
from tests.common.test_tracing import otlp_collector
from tests.postgres.test_split_deployment import ADMIN, serving, until
from tests.rag.corpus import ZORBLAX
from tests.support.fake_provider import FakeProvider


@dataclass(frozen=True)
class Exported:
    service: str
    name: str
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    url: str


def _spans(posts: list[bytes]) -> list[Exported]:
    found = []
    for body in posts:
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
            attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    own = {a.key: a.value.string_value for a in span.attributes}
                    found.append(Exported(
                        attrs["service.name"], span.name, span.trace_id, span.span_id,
                        span.parent_span_id, own.get("url.full") or own.get("http.url", ""),
                    ))  # fmt: skip
    return found


@pytest.mark.slow
async def test_an_uploads_trace_reaches_the_llm_call_across_two_processes(
    nats_url: str, redis_url: str, postgres_dsn: str, fake: FakeProvider, tmp_path: Path
) -> None:
    bodies: list[bytes] = []
    async with otlp_collector() as (collector, posts), contextlib.AsyncExitStack() as stack:
        env = cli_env(
            RAGAPI_NATS_URL=nats_url, RAGAPI_REDIS_URL=redis_url,
            RAGAPI_STORAGE_PROFILE="postgres", RAGAPI_POSTGRES_DSN=postgres_dsn,
            RAGAPI_ADMIN_TOKEN="split-admin", RAGAPI_SECRET_KEY="split-secret",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector, OTEL_BSP_SCHEDULE_DELAY="200",
        )  # fmt: skip
        urls = {}
        for service in ("tenants", "ingest"):
            (tmp_path / service).mkdir()
            urls[service] = await stack.enter_async_context(
                serving(service, env, tmp_path / service)
            )
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        config = {"llm": {"base_url": fake.base_url, "model": "fake-llm"}}
        created = await client.post(
            f"{urls['tenants']}/v1/tenants",
            json={"id": "traced", "name": "traced", "config": config}, headers=ADMIN,
        )  # fmt: skip
        tenant = {"authorization": f"Bearer {created.json()['api_key']}"}
        accepted = await client.post(
            f"{urls['ingest']}/v1/documents/text",
            json={"documents": [{"text": ZORBLAX, "name": "zorblax.txt"}]}, headers=tenant,
        )  # fmt: skip
        assert accepted.status_code == 202, accepted.text

        async def finished() -> dict[str, Any] | None:
            task = await client.get(
                f"{urls['ingest']}/v1/tasks/{accepted.json()['task_id']}", headers=tenant
            )
            body: dict[str, Any] = task.json()
            return body if body["status"] in ("succeeded", "failed", "partial") else None

        assert (await until(finished))["status"] == "succeeded"

        async def exported() -> tuple[Exported, dict[bytes, Exported], list[str]] | None:
            """The upload, its trace and the LLM call's ancestry once all of it arrived."""
            while not posts.empty():
                bodies.append(posts.get_nowait()[1])
            spans = _spans(bodies)
            uploads = [s for s in spans if s.name == "POST /v1/documents/text"]
            if not uploads:
                return None
            trace = {s.span_id: s for s in spans if s.trace_id == uploads[0].trace_id}
            for span in trace.values():
                chain = []
                while span.url.endswith("/chat/completions") or chain:
                    chain.append(span.name)
                    if not span.parent_id or span.parent_id not in trace:
                        break
                    span = trace[span.parent_id]
                if chain and span == uploads[0]:
                    return uploads[0], trace, chain
            return None

        upload, trace, chain = await until(exported)
    assert upload.service == "ragapi-ingest"
    assert {s.service for s in trace.values()} >= {"ragapi-ingest", "ragapi-tenants"}
    assert any(name.startswith("process ragapi.jobs") for name in chain), chain
    assert any(name.startswith("publish ragapi.jobs") for name in chain), chain

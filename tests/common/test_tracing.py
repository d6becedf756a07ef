"""Traces across HTTP and NATS: one upload's request, its jobs and their workers share a
trace; request/reply and events carry it too; with no exporter nothing of it happens."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragapi_common import tracing
from ragapi_common.bus import Bus, Endpoint, JobContext, WorkerSpec
from ragapi_common.contracts.payloads import (
    DeleteJob,
    ResolveKeyRequest,
    TenantContext,
    TenantEvent,
)
from ragapi_common.errors import Unauthorized
from ragapi_common.logs import JsonFormatter, tenant_id_var
from ragapi_common.metrics import Metrics
from ragapi_common.secrets import hash_api_key
from ragapi_common.shutdown import Shutdown
from ragapi_common.web import build_app
from tests.support.apps import running

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
ROUTE = "/v1/documents/{doc_id}"


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)
    assert not tracing.enabled()
    yield
    tracing.shutdown()  # a test that turned tracing on leaves it off


@pytest.fixture
async def spans(no_otel_env: None) -> AsyncIterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure("test", exporter=exporter)
    yield exporter
    await asyncio.to_thread(tracing.shutdown)


async def finished(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    """The spans ended so far, by name (each name is unique within a test)."""
    assert await asyncio.to_thread(tracing.flush, 10)
    return {span.name: span for span in exporter.get_finished_spans()}


@dataclass(frozen=True)
class Indexed:
    """What the last worker of the pipeline saw while it worked."""

    doc_id: str
    ids: tuple[str, str] | None
    log_line: dict[str, Any]


@dataclass(frozen=True)
class Pipeline:
    client: httpx.AsyncClient
    ingest: str
    index: str
    indexed: asyncio.Queue[Indexed]
    ingest_headers: asyncio.Queue[dict[str, str] | None]


@asynccontextmanager
async def pipeline(bus: Bus) -> AsyncIterator[Pipeline]:
    """HTTP upload -> ingest job -> ingest worker -> index job -> index worker, on real NATS."""
    tag = uuid.uuid4().hex[:8]
    ingest, index = f"ragapi.jobs.test.{tag}.ingest", f"ragapi.jobs.test.{tag}.index"
    indexed: asyncio.Queue[Indexed] = asyncio.Queue()
    lines = io.StringIO()
    logger = _json_logger(f"tests.tracing.{tag}", lines)

    async def upload(request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        tenant_id_var.set("acme")  # as the auth dependency does
        job = DeleteJob(tenant_id="acme", doc_id=doc_id, task_id=f"task-{tag}")
        await bus.submit(ingest, job, msg_id=f"{tag}:ingest:{doc_id}")
        return JSONResponse({"ids": tracing.current_ids()}, status_code=202)

    async def work_ingest(job: DeleteJob, ctx: JobContext) -> None:
        await bus.submit(index, job, msg_id=f"{tag}:index:{job.doc_id}")

    async def work_index(job: DeleteJob, ctx: JobContext) -> None:
        logger.info("indexed %s", job.doc_id)
        line = json.loads(lines.getvalue().splitlines()[-1])
        await indexed.put(Indexed(job.doc_id, tracing.current_ids(), line))

    # A plain subscriber on the job subject sees each job message as it was published.
    seen: asyncio.Queue[dict[str, str] | None] = asyncio.Queue()

    async def on_raw(msg: Any) -> None:
        await seen.put(msg.headers)

    raw = await bus.client.subscribe(ingest, cb=on_raw)
    workers = [
        await bus.start_worker(WorkerSpec(f"trace-{tag}-{name}", subject, DeleteJob, work))
        for name, subject, work in (("ingest", ingest, work_ingest), ("index", index, work_index))
    ]
    try:
        async with running(_app(upload)) as client:
            yield Pipeline(client, ingest, index, indexed, seen)
    finally:
        await raw.unsubscribe()
        for worker in workers:
            await worker.stop(Shutdown(1))


def _app(upload: Any) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield

    async def readiness() -> dict[str, Any]:
        return {}

    return build_app(
        service="demo",
        routes=[Route(ROUTE, upload, methods=["POST"])],
        lifespan=lifespan,
        metrics=Metrics(),
        readiness=readiness,
        openapi={"openapi": "3.1.0", "paths": {}},
    )


def _json_logger(name: str, sink: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def ids_of(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def parent_id(span: ReadableSpan) -> str:
    assert span.parent is not None
    return f"{span.parent.span_id:016x}"


async def test_upload_jobs_and_workers_share_one_trace(
    bus: Bus, spans: InMemorySpanExporter
) -> None:
    async with pipeline(bus) as flow:
        response = await flow.client.post("/v1/documents/doc-1")
        done = await asyncio.wait_for(flow.indexed.get(), 10)
        headers = await asyncio.wait_for(flow.ingest_headers.get(), 5)
        assert (await flow.client.get("/healthz")).status_code == 200
    assert response.status_code == 202
    by_name = await finished(spans)
    assert not [name for name in by_name if "healthz" in name]  # probes are not traced
    http = by_name[f"POST {ROUTE}"]
    chain = [
        http,
        by_name[f"publish {flow.ingest}"],
        by_name[f"process {flow.ingest}"],
        by_name[f"publish {flow.index}"],
        by_name[f"process {flow.index}"],
    ]
    trace_id, http_span_id = ids_of(http)
    assert {ids_of(span)[0] for span in chain} == {trace_id}
    for parent, child in itertools.pairwise(chain):
        assert parent_id(child) == ids_of(parent)[1], child.name
    assert http.parent is None
    assert [span.kind for span in chain] == [
        SpanKind.SERVER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    ]
    assert http.attributes is not None
    assert http.attributes["http.route"] == ROUTE
    assert http.attributes["http.response.status_code"] == 202
    assert http.attributes["ragapi.tenant_id"] == "acme"
    assert chain[-1].attributes is not None
    assert chain[-1].attributes["ragapi.tenant_id"] == "acme"
    # Handlers see their own span; a log line made in one names it.
    assert tuple(response.json()["ids"]) == (trace_id, http_span_id)
    assert done.ids == ids_of(chain[-1])
    assert (done.log_line["trace_id"], done.log_line["span_id"]) == ids_of(chain[-1])
    # The job message carried the producer span's context.
    assert headers is not None
    assert headers["traceparent"].startswith(f"00-{trace_id}-{ids_of(chain[1])[1]}-")


async def test_an_incoming_traceparent_is_continued(bus: Bus, spans: InMemorySpanExporter) -> None:
    async with pipeline(bus) as flow:
        response = await flow.client.post(
            "/v1/documents/doc-2", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}
        )
        done = await asyncio.wait_for(flow.indexed.get(), 10)
    assert response.status_code == 202
    by_name = await finished(spans)
    http = by_name[f"POST {ROUTE}"]
    assert ids_of(http)[0] == TRACE
    assert parent_id(http) == PARENT
    assert http.parent is not None
    assert http.parent.is_remote
    assert done.ids is not None
    assert done.ids[0] == TRACE


async def test_request_reply_carries_the_trace(bus: Bus, spans: InMemorySpanExporter) -> None:
    subject = f"test.trace.{uuid.uuid4().hex}"
    inside: list[tuple[str, str] | None] = []

    async def resolve(req: ResolveKeyRequest) -> TenantContext:
        inside.append(tracing.current_ids())
        if req.key_hash != hash_api_key("good"):
            raise Unauthorized("unknown key")
        return TenantContext(tenant_id="acme", name="Acme")

    await bus.serve(
        "test-trace", "1.0.0", [Endpoint("resolve", subject, ResolveKeyRequest, resolve)]
    )
    await bus.request(subject, ResolveKeyRequest(key_hash=hash_api_key("good")), TenantContext)
    by_kind = {span.kind: span for span in (await finished(spans)).values()}
    client, server = by_kind[SpanKind.CLIENT], by_kind[SpanKind.SERVER]
    assert server.name == f"process {subject}"
    assert ids_of(server)[0] == ids_of(client)[0]
    assert parent_id(server) == ids_of(client)[1]
    assert inside == [ids_of(server)]
    assert client.status.status_code == StatusCode.UNSET

    spans.clear()
    with pytest.raises(Unauthorized):
        await bus.request(subject, ResolveKeyRequest(key_hash=hash_api_key("bad")), TenantContext)
    failed = await finished(spans)
    assert failed[f"send {subject}"].status.status_code == StatusCode.ERROR
    answered = failed[f"process {subject}"]
    assert answered.attributes is not None
    assert answered.attributes["error.type"] == "unauthorized"
    assert answered.status.status_code == StatusCode.UNSET  # a 4xx is the caller's fault


async def test_events_carry_the_publishers_trace(bus: Bus, spans: InMemorySpanExporter) -> None:
    subject = f"test.trace.events.{uuid.uuid4().hex}"
    got: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()

    async def on_event(subject: str, event: TenantEvent) -> None:
        await got.put(tracing.current_ids())

    await bus.subscribe(subject, TenantEvent, on_event)
    with tracing.outgoing("tenant update", "producer") as span:
        await bus.publish(subject, TenantEvent(tenant_id="t1"))
        trace_id = span.headers()["traceparent"].split("-")[1]
    ids = await asyncio.wait_for(got.get(), 5)
    by_name = await finished(spans)
    consumer = by_name[f"process {subject}"]
    assert ids == ids_of(consumer)
    assert ids[0] == trace_id
    assert parent_id(consumer) == ids_of(by_name["tenant update"])[1]


async def test_without_an_exporter_nothing_is_traced(bus: Bus, no_otel_env: None) -> None:
    assert not tracing.configure("test")
    async with pipeline(bus) as flow:
        response = await flow.client.post(
            "/v1/documents/doc-3", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}
        )
        done = await asyncio.wait_for(flow.indexed.get(), 10)
        headers = await asyncio.wait_for(flow.ingest_headers.get(), 5)
    assert response.status_code == 202
    assert "traceparent" not in response.headers
    assert response.json()["ids"] is None
    assert done.ids is None
    assert "trace_id" not in done.log_line
    assert done.log_line["message"] == "indexed doc-3"
    assert headers is not None
    assert set(headers) == {"Nats-Msg-Id", "Nats-Expected-Stream"}  # ours and nats-py's

    subject = f"test.trace.events.{uuid.uuid4().hex}"
    sub = await bus.client.subscribe(subject)
    await bus.publish(subject, TenantEvent(tenant_id="t1"))
    event = await sub.next_msg(timeout=5)
    await sub.unsubscribe()
    assert event.headers is None


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
    ],
)
def test_the_environment_turns_tracing_on(
    environ: dict[str, str], on: bool, monkeypatch: pytest.MonkeyPatch, no_otel_env: None
) -> None:
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert tracing.configure("test") is on
    assert tracing.enabled() is on


def test_an_exporter_ragapi_does_not_have_is_refused(
    monkeypatch: pytest.MonkeyPatch, no_otel_env: None
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="zipkin"):
        tracing.configure("test")
    assert not tracing.enabled()


async def test_spans_reach_an_otlp_http_collector(
    monkeypatch: pytest.MonkeyPatch, no_otel_env: None
) -> None:
    """The exporter the environment names posts protobuf spans to the collector's URL."""
    async with otlp_collector() as (url, posts):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        assert tracing.configure("ingest")
        with tracing.outgoing("send ragapi.ocr.run", "client"):
            pass
        assert await asyncio.to_thread(tracing.flush, 10)
        path, body = await asyncio.wait_for(posts.get(), 10)
        await asyncio.to_thread(tracing.shutdown)
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "ingest"
    names = [span.name for scope in resource_spans.scope_spans for span in scope.spans]
    assert names == ["send ragapi.ocr.run"]


@asynccontextmanager
async def otlp_collector() -> AsyncIterator[tuple[str, asyncio.Queue[tuple[str, bytes]]]]:
    """A minimal OTLP/HTTP receiver: answers 200 to each POST and queues (path, body)."""
    posts: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                match = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
                body = await reader.readexactly(int(match.group(1)) if match else 0)
                await posts.put((head.split(b" ")[1].decode(), body))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", posts

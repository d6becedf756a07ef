"""Each service names its own spans, also when several run in one process (``ragapi up``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragapi_common.bus import Bus, JobContext, WorkerSpec
from ragapi_common.contracts.payloads import DeleteJob
from ragapi_common.metrics import Metrics
from ragapi_common.shutdown import Shutdown
from ragapi_common.web import build_app
from tests.common.test_tracing import finished, no_otel_env, spans
from tests.support.apps import running

__all__ = ["no_otel_env", "spans"]


def _app(service: str, routes: list[Route], started: Any = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = await started() if started is not None else None
        yield
        if worker is not None:
            await worker.stop(Shutdown(1))

    async def readiness() -> dict[str, Any]:
        return {}

    return build_app(
        service=service, routes=routes, lifespan=lifespan, metrics=Metrics(),
        readiness=readiness, openapi={"openapi": "3.1.0", "paths": {}},
    )  # fmt: skip


async def test_two_services_in_one_process_name_their_own_spans(
    bus: Bus, spans: InMemorySpanExporter
) -> None:
    subject = f"ragapi.jobs.test.{uuid.uuid4().hex[:8]}.ingest"
    done: asyncio.Queue[str] = asyncio.Queue()

    async def ask(request: Request) -> Response:
        await bus.submit(subject, DeleteJob(tenant_id="t", doc_id="d", task_id="k"), msg_id="m")
        return JSONResponse({}, status_code=202)

    async def work(job: DeleteJob, ctx: JobContext) -> None:
        await done.put(job.doc_id)

    async def start_worker() -> Any:
        return await bus.start_worker(
            WorkerSpec(f"svc-{subject[-14:-7]}", subject, DeleteJob, work)
        )

    ingest = _app("ingest", [], start_worker)
    query = _app("query", [Route("/ask", ask, methods=["POST"])])
    async with AsyncExitStack() as stack:  # one process, one task, as the gateway does
        await stack.enter_async_context(running(ingest))
        client = await stack.enter_async_context(running(query))
        assert (await client.post("/ask")).status_code == 202
        assert await asyncio.wait_for(done.get(), 10) == "d"
    by_name = await finished(spans)
    service = {name: span.resource.attributes["service.name"] for name, span in by_name.items()}
    assert service == {
        "POST /ask": "ragapi-query",
        f"publish {subject}": "ragapi-query",
        f"process {subject}": "ragapi-ingest",
    }
    process, http = by_name[f"process {subject}"], by_name["POST /ask"]
    assert process.context is not None
    assert http.context is not None
    assert process.context.trace_id == http.context.trace_id  # still one trace

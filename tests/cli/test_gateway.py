"""The gateway in-process: routing without rewriting, lifespans, probes, metrics, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragapi_cli.gateway import Gateway, Mounted
from ragapi_cli.lifespan import LifespanFailed, LifespanRunner
from ragapi_common.metrics import Metrics
from ragapi_common.openapi import OpenApi
from ragapi_common.web import build_app


def service(
    name: str, journal: list[str], metrics: Metrics, *, ready: bool = True, fail: bool = False
) -> Starlette:
    """A small service app built like the real ones: it records its lifespan in ``journal``."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Any]:
        if fail:
            raise RuntimeError(f"{name} cannot start")
        journal.append(f"start {name}")
        yield {"owner": name}
        journal.append(f"stop {name}")

    async def echo(request: Request) -> Response:
        return JSONResponse(
            {"service": name, "path": request.url.path, "state": request.state.owner}
        )

    async def readiness() -> dict[str, Any]:
        return {"store": {"ok": ready}}

    spec = OpenApi(name)
    spec.operation("GET", f"/v1/{name}", f"list {name}", tag=name)
    return build_app(
        service=name,
        routes=[Route("/v1/{name}", echo), Route("/v1/{name}/{rest:path}", echo)],
        lifespan=lifespan,  # type: ignore[arg-type]
        metrics=metrics,
        readiness=readiness,
        openapi=spec.document(),
    )


def gateway(journal: list[str], **options: Any) -> Gateway:
    metrics = Metrics()
    mounted = [
        Mounted("tenants", service("tenants", journal, metrics), ("/v1/tenants",)),
        Mounted(
            "ingest",
            service("ingest", journal, metrics, ready=options.get("ready", True)),
            ("/v1/documents", "/v1/tasks"),
        ),
        Mounted(
            "query",
            service("query", journal, metrics, fail=options.get("fail", False)),
            ("/v1/query", "/v1/chat/completions"),
        ),
    ]
    return Gateway(mounted, metrics=metrics)


@asynccontextmanager
async def client_of(app: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_routes_by_prefix_without_rewriting_paths() -> None:
    async with client_of(gateway([])) as client:
        tenants = await client.get("/v1/tenants/acme/keys")
        tasks = await client.get("/v1/tasks/t1/events")
        chat = await client.get("/v1/chat/completions")
        lookalike = await client.get("/v1/tenantsx")
        unknown = await client.get("/v2/anything")
    assert tenants.json() == {
        "service": "tenants",
        "path": "/v1/tenants/acme/keys",
        "state": "tenants",
    }
    assert tasks.json()["service"] == "ingest"
    assert tasks.json()["path"] == "/v1/tasks/t1/events"
    assert chat.json()["service"] == "query"
    for answer in (lookalike, unknown):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


async def test_lifespans_start_in_order_and_stop_in_reverse() -> None:
    journal: list[str] = []
    async with client_of(gateway(journal)):
        assert journal == ["start tenants", "start ingest", "start query"]
    assert journal[3:] == ["stop query", "stop ingest", "stop tenants"]


async def test_a_failed_start_stops_the_started_ones() -> None:
    journal: list[str] = []
    with pytest.raises(
        LifespanFailed, match="query failed to start: RuntimeError: query cannot start"
    ):
        async with gateway(journal, fail=True).running():
            pytest.fail("must not run")
    assert journal == ["start tenants", "start ingest", "stop ingest", "stop tenants"]


async def test_the_gateway_speaks_the_asgi_lifespan_protocol() -> None:
    journal: list[str] = []
    runner = LifespanRunner(gateway(journal), "gateway")
    await runner.startup()
    assert journal == ["start tenants", "start ingest", "start query"]
    await runner.shutdown()
    assert journal[-1] == "stop tenants"

    failing = LifespanRunner(gateway([], fail=True), "gateway")
    with pytest.raises(LifespanFailed, match="query cannot start"):
        await failing.startup()


async def test_readyz_needs_every_service_ready() -> None:
    async with client_of(gateway([])) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {"tenants", "ingest", "query"}

    async with client_of(gateway([], ready=False)) as client:
        not_ready = await client.get("/readyz")
        health = await client.get("/healthz")
    assert not_ready.status_code == 503
    assert not_ready.headers["retry-after"] == "1"
    checks = not_ready.json()["checks"]
    assert checks["ingest"]["ok"] is False
    assert checks["ingest"]["checks"] == {"store": {"ok": False}}
    assert checks["tenants"]["ok"] is True
    assert health.status_code == 200


async def test_one_metrics_registry_and_a_merged_openapi() -> None:
    async with client_of(gateway([])) as client:
        await client.get("/v1/tenants")
        await client.get("/v1/documents")
        metrics = await client.get("/metrics")
        spec = await client.get("/openapi.json")
        posted = await client.post("/metrics")
    families = [line for line in metrics.text.splitlines() if line.startswith("# TYPE ")]
    assert len(families) == len(set(families))
    assert 'service="tenants"' in metrics.text
    assert 'service="ingest"' in metrics.text
    assert set(spec.json()["paths"]) == {"/v1/tenants", "/v1/ingest", "/v1/query"}
    assert posted.status_code == 405

"""Error mapping and probes that every service app gets from ``build_app``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragapi_common.errors import RateLimited
from ragapi_common.metrics import Metrics
from ragapi_common.web import build_app, read_json
from tests.query.serving import serving
from tests.support.apps import running


class Body(BaseModel):
    name: str = Field(min_length=1)
    count: int


async def echo(request: Request) -> Response:
    body = await read_json(request, Body, limit=64 * 1024)
    return JSONResponse(body.model_dump())


async def limited(request: Request) -> Response:
    raise RateLimited("slow down", retry_after=2.2)


async def broken(request: Request) -> Response:
    raise KeyError("a bug")


async def raw_length(request: Request) -> Response:
    return JSONResponse({"length": len(await request.body())})


def make_app(ready: bool = True) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield

    async def readiness() -> dict[str, Any]:
        return {"thing": {"ok": ready}}

    return build_app(
        service="demo",
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/limited", limited),
            Route("/broken", broken),
            Route("/raw", raw_length, methods=["POST"]),
        ],
        lifespan=lifespan,
        metrics=Metrics(),
        readiness=readiness,
        openapi={"openapi": "3.1.0", "paths": {}},
    )


async def test_contract_errors() -> None:
    async with running(make_app()) as client:
        bad_json = await client.post("/echo", content=b"[1,")
        assert bad_json.status_code == 400
        assert bad_json.json()["error"]["code"] == "bad_request"
        invalid = await client.post("/echo", json={"name": "", "count": "x"})
        assert invalid.status_code == 422
        assert {d["field"] for d in invalid.json()["error"]["details"]} == {"name", "count"}
        limited = await client.get("/limited")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3"
        missing = await client.get("/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        wrong_method = await client.delete("/echo")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "method_not_allowed"
        assert (await client.post("/echo", json={"name": "a", "count": 1})).json()["count"] == 1


async def test_a_bug_answers_500_in_the_contract_format() -> None:
    async with running(make_app()) as client:
        response = await client.get("/broken", headers={"x-request-id": "req-42"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers["x-request-id"] == "req-42"


async def test_readyz_says_which_check_failed() -> None:
    async with running(make_app(ready=False)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["checks"] == {"thing": {"ok": False}}


async def test_a_client_leaving_mid_body_is_a_disconnect_not_a_bug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ragapi_common.web")
    async with serving(make_app()) as url:
        host, port = url.removeprefix("http://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"POST /raw HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b"only ten b"
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(10):
            while True:  # until the server has said something about it
                records = [r for r in caplog.records if r.name == "ragapi_common.web"]
                if records:
                    break
                await asyncio.sleep(0.01)
    records = [r for r in caplog.records if r.name == "ragapi_common.web"]
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in records] == [
        (logging.INFO, "client disconnected during POST /raw", None)
    ]

"""The one JSON body reader, ``read_json``: refused past its cap before or while the body
streams (the app is fed through ASGI, so what it consumed is counted exactly), nesting
refused with a 400, fields strict."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message

from ragapi_common.metrics import Metrics
from ragapi_common.web import build_app, read_json
from tests.support.apps import running

CAP = 64 * 1024
CHUNK = 16 * 1024


class Body(BaseModel):
    flag: bool = False
    count: int = 0
    text: str = ""
    data: Any = None


async def echo(request: Request) -> Response:
    body = await read_json(request, Body, limit=CAP)
    return JSONResponse(body.model_dump())


def make_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield

    async def readiness() -> dict[str, Any]:
        return {}

    return build_app(
        service="demo",
        routes=[Route("/echo", echo, methods=["POST"])],
        lifespan=lifespan,
        metrics=Metrics(),
        readiness=readiness,
        openapi={"openapi": "3.1.0", "paths": {}},
    )


class Feeder:
    """An ASGI ``receive`` that hands the app a body chunk by chunk, counting what it took."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.consumed = 0

    async def __call__(self) -> Message:
        chunk = next(self.chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


def huge_body() -> Iterator[bytes]:
    """300 MB of a JSON string, made as it is taken."""
    yield b'{"text": "'
    for _ in range(300 * 1024 * 1024 // CHUNK):
        yield b"a" * CHUNK
    yield b'"}'


async def post(headers: list[tuple[bytes, bytes]], feeder: Feeder) -> tuple[int, dict[str, Any]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await make_app()(scope, feeder, send)
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return sent[0]["status"], json.loads(body)


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    feeder = Feeder(huge_body())
    status, body = await post([(b"content-length", str(300 * 1024 * 1024).encode())], feeder)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert feeder.consumed == 0


async def test_a_chunked_body_is_read_up_to_the_cap_only() -> None:
    feeder = Feeder(huge_body())
    status, body = await post([(b"transfer-encoding", b"chunked")], feeder)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert CAP < feeder.consumed <= CAP + CHUNK


async def test_a_body_of_exactly_the_cap_is_read() -> None:
    text = b'{"text": "' + b"a" * (CAP - 12) + b'"}'
    assert len(text) == CAP
    status, body = await post([(b"content-length", str(CAP).encode())], Feeder(iter([text])))
    assert status == 200
    assert len(body["text"]) == CAP - 12


@pytest.mark.parametrize(("levels", "status"), [(200, 200), (30_000, 400)])
async def test_nesting_past_the_parsers_limit_is_a_400(levels: int, status: int) -> None:
    nested = b'{"data": ' + b"[" * levels + b"]" * levels + b"}"
    async with running(make_app()) as client:
        response = await client.post("/echo", content=nested)
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["code"] == "bad_request"
        assert "nests too deep" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"flag": "yes"}, "flag"),
        ({"flag": 1}, "flag"),
        ({"count": "5"}, "count"),
        ({"count": 5.0}, "count"),
    ],
)
async def test_fields_are_not_coerced(body: dict[str, Any], field: str) -> None:
    async with running(make_app()) as client:
        response = await client.post("/echo", json=body)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]

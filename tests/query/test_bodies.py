"""Request bodies of ``/v1/query`` and ``/v1/chat/completions``: capped before they are read
(Content-Length) or while they stream (chunked), nesting refused in O(n), fields strict."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import pytest

from tests.conftest import TenantFactory

from .conftest import UNLIMITED, QueryStack

MB = 1024 * 1024
DEEP = b"[" * 100_000 + b"]" * 100_000
CHAT = "/v1/chat/completions"


def _nested(path: str) -> bytes:
    if path == CHAT:
        return (
            b'{"model": "rag", "messages": [{"role": "user", "content": "x"}], "x": ' + DEEP + b"}"
        )
    return b'{"query": "x", "conversation_history": ' + DEEP + b"}"


@pytest.mark.parametrize("path", ["/v1/query", CHAT])
async def test_deep_nesting_is_a_400_not_a_crash(
    query_stack: QueryStack, tenant_factory: TenantFactory, path: str
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    headers = {**tenant.headers, "content-type": "application/json"}
    response = await query_stack.client.post(path, content=_nested(path), headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
    assert "deep" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/query", {"query": "x", "stream": "yes"}, "stream"),
        ("/v1/query", {"query": "x", "include_references": 1}, "include_references"),
        ("/v1/query", {"query": "x", "top_k": "5"}, "top_k"),
        (
            CHAT,
            {"model": "rag", "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
            "stream",
        ),
        (
            CHAT,
            {"model": "rag", "messages": [{"role": "user", "content": "x"}], "top_k": 2.0},
            "top_k",
        ),
    ],
)
async def test_fields_are_not_coerced(
    query_stack: QueryStack, tenant_factory: TenantFactory, path: str, body: object, field: str
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    response = await query_stack.client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


@pytest.mark.parametrize("path", ["/v1/query", CHAT])
async def test_a_declared_length_over_the_cap_is_413(
    query_stack: QueryStack, tenant_factory: TenantFactory, path: str
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    cap = query_stack.settings.max_query_body_bytes
    assert cap == MB  # the default
    body = b'{"query": "' + b"a" * cap + b'"}'
    response = await query_stack.client.post(path, content=body, headers=tenant.headers)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_a_chunked_body_is_cut_off_at_the_cap(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    """300 MB offered without Content-Length: 413 once the cap is passed, while the client is
    still sending (it stops when the answer comes: what it sent is the cap plus what the
    sockets' buffers held, not the body)."""
    tenant = await tenant_factory(config=UNLIMITED)
    parts = urlsplit(query_stack.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST /v1/query HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {tenant.api_key}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    answer = asyncio.create_task(reader.readline())
    chunk = b"a" * (64 * 1024)
    sent = 0
    writer.write(b'b\r\n{"query": "\r\n')
    try:
        while sent < 300 * MB and not answer.done():
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            sent += len(chunk)
    except (ConnectionResetError, BrokenPipeError):
        pass
    status_line = await asyncio.wait_for(answer, 30)
    assert b" 413 " in status_line
    assert sent < 32 * MB, f"the client sent {sent} bytes before the 413"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()

"""413 is said before the body is read: raw sockets count what the client got to send."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle

from .conftest import StackFactory

LIMIT = 1024 * 1024
BOUNDARY = "xXx-boundary"


def _head(url: str, tenant: TenantHandle, extra: str) -> bytes:
    host = urlsplit(url).netloc
    return (
        f"POST /v1/documents HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {tenant.api_key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{extra}\r\n"
    ).encode()


def _part_start() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
    ).encode()


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def test_declared_length_over_the_limit_is_refused_before_any_body(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False, multipart_overhead_bytes=64 * 1024)
    tenant = await tenant_factory(config={"limits": {"max_upload_bytes": LIMIT}})
    reader, writer = await _connect(stack.url)
    writer.write(_head(stack.url, tenant, f"Content-Length: {10 * 1024**3}\r\n"))
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    assert b" 413 " in status_line
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def test_streamed_body_is_cut_off_at_the_limit(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    """No Content-Length (chunked): the server stops once the limit is passed."""
    stack = await make_ingest(workers=False, multipart_overhead_bytes=64 * 1024)
    tenant = await tenant_factory(config={"limits": {"max_upload_bytes": LIMIT}})
    reader, writer = await _connect(stack.url)
    writer.write(_head(stack.url, tenant, "Transfer-Encoding: chunked\r\n"))
    answer = asyncio.create_task(reader.readline())
    sent = 0
    planned = 200 * LIMIT
    chunk = b"a" * 65536

    def framed(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    writer.write(framed(_part_start()))
    try:
        while sent < planned and not answer.done():
            writer.write(framed(chunk))
            await writer.drain()
            sent += len(chunk)
            await asyncio.sleep(0.001)
    except (ConnectionResetError, BrokenPipeError):
        pass
    status_line = await asyncio.wait_for(answer, 10)
    assert b" 413 " in status_line
    assert sent < 8 * LIMIT, f"the client sent {sent} bytes before the 413"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def test_a_file_over_the_tenant_limit_is_refused(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    small = await tenant_factory(config={"limits": {"max_upload_bytes": 1000}})
    response = await stack.upload(small, [("a.txt", b"x" * 1001)])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    ok = await stack.upload(small, [("a.txt", b"x" * 1000)])
    assert ok.status_code == 202

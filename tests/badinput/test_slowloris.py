"""Slow-loris clients: a request head trickled in a byte at a time, a body that stalls, a
connection that never says anything. The server cuts each off after its read timeout
(3 s here) and keeps answering the probe within 1 s meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import pytest

from tests.support.probe import Probe
from tests.support.slowness import slowness
from tests.support.upstack import Stack

from .conftest import READ_TIMEOUT_S

CONNECTIONS = 20
HEAD = b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Ty"


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """What the server sent until it closed the connection (EOF or reset)."""
    received = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def _trickle(writer: asyncio.StreamWriter, data: bytes, every_s: float) -> None:
    with contextlib.suppress(ConnectionError):
        for index in range(len(data)):
            writer.write(data[index : index + 1])
            await writer.drain()
            await asyncio.sleep(every_s)  # the attack's pace
        while True:  # then keep the connection busy with more header bytes
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(every_s)


async def _cut_off(stack: Stack, template: bytes, *, trickle: bool) -> float:
    """Seconds until the server closed a connection that sent ``send`` (trickled or at once)."""
    send = template.replace(b"KEY", stack.tenant_key.encode())
    address = urlsplit(stack.url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    loop = asyncio.get_running_loop()
    began = loop.time()
    sender = asyncio.create_task(_trickle(writer, send, 0.2)) if trickle else None
    if not trickle and send:
        writer.write(send)
        await writer.drain()
    try:
        deadline = (READ_TIMEOUT_S + 10) * slowness()
        received = await asyncio.wait_for(_closed_by_server(reader), deadline)
        assert received == b"", received[:200]  # cut off, not answered
        return loop.time() - began
    finally:
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize(
    ("send", "trickle"),
    [
        pytest.param(b"", False, id="silent-connection"),
        pytest.param(HEAD, True, id="head-a-byte-at-a-time"),
        pytest.param(
            b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\n"
            b"Content-Length: 100000\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n",
            False,
            id="stalled-body",
        ),
    ],
)
async def test_slow_clients_are_cut_off_after_the_read_timeout(
    stack: Stack, probe: Probe, send: bytes, trickle: bool
) -> None:
    waits = await asyncio.gather(
        *(_cut_off(stack, send, trickle=trickle) for _ in range(CONNECTIONS))
    )
    # Not before the timeout: the server waited for the client as long as it promised.
    assert min(waits) >= READ_TIMEOUT_S * 0.9, waits

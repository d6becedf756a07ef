"""Server-Sent Events: encoding, and a response that stops its producer when the client leaves.

:class:`EventStreamResponse` sends what an async iterator of already encoded
chunks yields, while it watches ``http.disconnect``: the moment the client
goes, the producer is cancelled and closed, so nothing (an LLM stream, a bus
subscription) keeps running for nobody. It does not depend on the server's
ASGI spec version, unlike Starlette's ``StreamingResponse``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

MEDIA_TYPE = "text/event-stream"
_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # nginx/ingress: pass events through unbuffered
}


def encode_event(data: Any, *, event: str | None = None, event_id: str | None = None) -> bytes:
    """One SSE message; ``data`` that is not a str is sent as compact JSON."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def comment(text: str = "") -> bytes:
    """A comment line: clients ignore it, proxies see traffic (keep-alive)."""
    return f": {text}\n\n".encode()


class EventStreamResponse:
    """An ASGI response streaming ``chunks`` as ``text/event-stream``.

    ``ping_s`` sends a comment when the producer is silent that long, so idle
    proxies keep the connection open. A client disconnect cancels the producer.
    ``on_close`` runs once the response ends however it ends (even when the
    producer never started), to release what the stream held.
    """

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        ping_s: float | None = 15.0,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.chunks = chunks
        self.ping_s = ping_s
        self.on_close = on_close
        self.headers = {**_HEADERS, **(headers or {}), "content-type": MEDIA_TYPE}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode(), v.encode()) for k, v in self.headers.items()],
            }
        )
        channel = _Channel(send)
        tasks = {
            asyncio.create_task(self._pump(channel), name="sse-pump"),
            asyncio.create_task(_wait_for_disconnect(receive), name="sse-disconnect"),
        }
        if self.ping_s is not None:
            tasks.add(asyncio.create_task(channel.ping_while_idle(self.ping_s), name="sse-ping"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.on_close is not None:
                await self.on_close()
        for task in done:
            error = task.exception()
            if error is not None:
                # The producer failed after the headers went out: log it upstream, nothing to send.
                raise error

    async def _pump(self, channel: _Channel) -> None:
        try:
            async for chunk in self.chunks:
                await channel.send(chunk, more=True)
            await channel.send(b"", more=False)
        except OSError:
            return  # the client is gone; the disconnect watcher says so too
        finally:
            aclose = getattr(self.chunks, "aclose", None)
            if aclose is not None:
                await aclose()


class _Channel:
    """Serialises body messages so a keep-alive never lands after the last one."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self._closed = False
        self._last = time.monotonic()

    async def send(self, body: bytes, *, more: bool) -> None:
        async with self._lock:
            if self._closed:
                return
            self._closed = not more
            self._last = time.monotonic()
            await self._send({"type": "http.response.body", "body": body, "more_body": more})

    async def ping_while_idle(self, every_s: float) -> None:
        while not self._closed:
            await asyncio.sleep(max(0.0, self._last + every_s - time.monotonic()))
            if time.monotonic() - self._last >= every_s:
                await self.send(comment("ping"), more=True)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return

"""A NATS connection that records every message it is allowed to see (payload and headers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg


@dataclass
class Capture:
    """What went over the bus: ``(subject, payload, headers)`` in arrival order."""

    messages: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def record(self, msg: Msg) -> None:
        self.messages.append((msg.subject, bytes(msg.data), dict(msg.headers or {})))

    def on(self, prefix: str) -> list[bytes]:
        return [data for subject, data, _ in self.messages if subject.startswith(prefix)]

    def containing(self, secret: str) -> list[str]:
        """Subjects of the messages whose payload or a header (name or value) holds ``secret``."""
        needle = secret.encode()
        found = []
        for subject, data, headers in self.messages:
            in_headers = any(secret in k or secret in v for k, v in headers.items())
            if needle in data or in_headers:
                found.append(subject)
        return found


@asynccontextmanager
async def spying(url: str, **auth: str) -> AsyncIterator[Capture]:
    """Subscribe to ``>`` for the block; flushed before the capture is read."""
    client: Client = await nats.connect(url, name="spy", **auth)
    capture = Capture()
    try:
        await client.subscribe(">", cb=capture.record)
        await client.flush()
        yield capture
    finally:
        await client.drain()

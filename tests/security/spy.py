"""Recorders for what could carry a secret: every NATS message a connection may see (payload
and headers), and every log record."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
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


class LogCapture(logging.Handler):
    """Every log record of the block, at DEBUG, as text: the message, the exception and
    every extra field (the services' own handlers keep their level)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.texts.append(f"{record.getMessage()} {exc} {record.__dict__!r}")

    def containing(self, secret: str) -> list[str]:
        return [text[:200] for text in self.texts if secret in text]


@contextmanager
def capturing_logs(*loggers: str) -> Iterator[LogCapture]:
    """Capture the root logger and ``loggers`` (those that do not propagate) at DEBUG."""
    capture = LogCapture()
    targets = [logging.getLogger(), *(logging.getLogger(name) for name in loggers)]
    saved = [(target, target.level, list(target.handlers)) for target in targets]
    for handler in logging.getLogger().handlers:
        handler.setLevel(max(handler.level, logging.INFO))
    for target in targets:
        target.setLevel(logging.DEBUG)
        target.addHandler(capture)
    try:
        yield capture
    finally:
        for target, level, handlers in saved:
            target.setLevel(level)
            target.handlers[:] = handlers

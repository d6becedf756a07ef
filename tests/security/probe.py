"""A NATS connection as one user, recording what the server refuses it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from tests.support.slowness import slowness


@dataclass
class Probe:
    client: Client = field(init=False)
    errors: list[str] = field(default_factory=list)
    received: list[Msg] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, error: Exception) -> None:
        self.errors.append(str(error).lower())
        self._changed.set()

    async def on_message(self, msg: Msg) -> None:
        self.received.append(msg)
        self._changed.set()

    async def until(self, condition: Callable[[], bool], within_s: float = 5.0) -> None:
        """Wait until ``condition()`` holds, checked on every message and error."""
        async with asyncio.timeout(within_s * slowness()):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def refused(self, action: str, subject: str, within_s: float = 5.0) -> None:
        """Wait for the server's 'permissions violation for <action> to "<subject>"'."""
        wanted = f'permissions violation for {action} to "{subject.lower()}'
        await self.until(lambda: any(wanted in error for error in self.errors), within_s)

    async def subscribe(self, subject: str) -> None:
        await self.client.subscribe(subject, cb=self.on_message)


@asynccontextmanager
async def probing(url: str, **auth: str) -> AsyncIterator[Probe]:
    probe = Probe()
    probe.client = await nats.connect(url, name="probe", error_cb=probe.on_error, **auth)
    try:
        yield probe
    finally:
        await probe.client.close()


async def connect_answer(url: str, **auth: str) -> str:
    """The server's answer to a CONNECT with ``auth`` (raw protocol: a refused nats-py
    client leaves its socket open)."""
    host, port = url.removeprefix("nats://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        writer.write(
            b"CONNECT " + json.dumps({"verbose": False, **auth}).encode() + b"\r\nPING\r\n"
        )
        await writer.drain()
        return (await reader.readline()).decode().strip()
    finally:
        writer.close()
        await writer.wait_closed()

"""A small Server-Sent Events reader over an httpx streaming response."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    event: str
    data: str

    def json(self) -> Any:
        """The data as JSON, or the raw text when it is not JSON."""
        try:
            return json.loads(self.data)
        except ValueError:
            return self.data


async def events(answer: httpx.Response) -> AsyncIterator[Event]:
    """Each complete event of the stream (comments and keep-alives skipped)."""
    name, data = "message", list[str]()
    async for line in answer.aiter_lines():
        if not line:
            if data:
                yield Event(name, "\n".join(data))
            name, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    if data:
        yield Event(name, "\n".join(data))

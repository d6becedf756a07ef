"""The HTTP side of the client commands: one async httpx client, contract errors as exceptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx


class ApiError(Exception):
    """The server answered an error (its contract body), or could not be reached."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def __str__(self) -> str:
        if self.status:
            return f"{self.status} {self.code}: {self.args[0]}"
        return str(self.args[0])


@asynccontextmanager
async def api_client(
    url: str, token: str, *, timeout_s: float = 60.0
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``url`` sending ``token`` as the bearer; connection errors become ApiError."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    timeouts = httpx.Timeout(timeout_s, connect=10.0)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeouts) as client:
        try:
            yield client
        except httpx.TransportError as exc:
            raise ApiError(f"cannot talk to {url}: {type(exc).__name__}: {exc}") from exc


async def raise_for_error(answer: httpx.Response) -> None:
    """Turn a 4xx/5xx answer into :class:`ApiError` with the server's message."""
    if answer.status_code < 400:
        return
    await answer.aread()
    try:
        error = answer.json()["error"]
        message, code = str(error.get("message", "")), str(error.get("code", ""))
        details = error.get("details")
        if details:
            message = f"{message} {details}"
    except (ValueError, KeyError, TypeError, AttributeError):
        message, code = answer.text[:500] or answer.reason_phrase, "http_error"
    raise ApiError(message, status=answer.status_code, code=code)


async def call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """One request; the JSON answer (None when empty), or ApiError."""
    answer = await client.request(method, path, **kwargs)
    await raise_for_error(answer)
    return answer.json() if answer.content else None

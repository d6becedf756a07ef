"""uvicorn in the current loop: a real SIGTERM stops accepting and lets in-flight requests end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ragapi_cli.serving import Stopper, bind, serve


def _answering_after(path: str, delay_s: float, text: str, entered: asyncio.Event) -> Starlette:
    """An app whose one route sets ``entered``, then answers ``text`` after ``delay_s``."""

    async def endpoint(request: Request) -> Response:
        entered.set()
        await asyncio.sleep(delay_s)
        return PlainTextResponse(text)

    return Starlette(routes=[Route(path, endpoint)])


async def _until_started(stopper: Stopper) -> None:
    for _ in range(200):
        if stopper.server is not None and stopper.server.started:
            return
        await asyncio.sleep(0.02)


async def test_sigterm_finishes_in_flight_requests_then_returns() -> None:
    entered = asyncio.Event()
    app = _answering_after("/slow", 0.5, "finished", entered)
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with Stopper(grace_s=10).installed() as stopper:
        server = asyncio.create_task(serve(app, sock, stopper))
        async with httpx.AsyncClient(base_url=url) as client:
            await _until_started(stopper)
            in_flight = asyncio.create_task(client.get("/slow"))
            await asyncio.wait_for(entered.wait(), 10)
            os.kill(os.getpid(), signal.SIGTERM)
            answer = await asyncio.wait_for(in_flight, 10)
            await asyncio.wait_for(server, 10)
        assert answer.status_code == 200
        assert answer.text == "finished"
        assert stopper.requested
    async with httpx.AsyncClient(base_url=url) as late:
        with pytest.raises(httpx.ConnectError):
            await late.get("/slow")


async def test_a_second_sigterm_stops_waiting_and_hurries_the_shutdown() -> None:
    entered = asyncio.Event()
    app = _answering_after("/stuck", 60, "too late", entered)
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with Stopper(grace_s=60).installed() as stopper:
        server = asyncio.create_task(serve(app, sock, stopper))
        async with httpx.AsyncClient(base_url=url) as client:
            await _until_started(stopper)
            in_flight = asyncio.create_task(client.get("/stuck"))
            await asyncio.wait_for(entered.wait(), 10)
            os.kill(os.getpid(), signal.SIGTERM)
            done, _ = await asyncio.wait({server}, timeout=0.5)
            assert not done  # the first signal waits for the request (up to 30 s)
            assert stopper.shutdown.begun
            assert not stopper.shutdown.hurried
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(server, 3)
            assert stopper.shutdown.hurried
            assert stopper.shutdown.left() == 0
            in_flight.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await in_flight

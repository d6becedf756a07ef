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


async def test_sigterm_finishes_in_flight_requests_then_returns() -> None:
    entered = asyncio.Event()

    async def slow(request: Request) -> Response:
        entered.set()
        await asyncio.sleep(0.5)
        return PlainTextResponse("finished")

    app = Starlette(routes=[Route("/slow", slow)])
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with Stopper(grace_s=10).installed() as stopper:
        server = asyncio.create_task(serve(app, sock, stopper))
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                if stopper.server is not None and stopper.server.started:
                    break
                await asyncio.sleep(0.02)
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

    async def stuck(request: Request) -> Response:
        entered.set()
        await asyncio.sleep(60)
        return PlainTextResponse("too late")

    app = Starlette(routes=[Route("/stuck", stuck)])
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with Stopper(grace_s=60).installed() as stopper:
        server = asyncio.create_task(serve(app, sock, stopper))
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                if stopper.server is not None and stopper.server.started:
                    break
                await asyncio.sleep(0.02)
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

"""uvicorn in the current loop: a real SIGTERM stops accepting and lets in-flight requests end."""

from __future__ import annotations

import asyncio
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
    with Stopper().installed() as stopper:
        server = asyncio.create_task(serve(app, sock, stopper, grace=10))
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

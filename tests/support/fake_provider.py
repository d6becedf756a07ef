"""A fake OpenAI-compatible model provider: a real HTTP server on a free local port.

    async with FakeProvider() as fake:
        fake.base_url                       # "http://127.0.0.1:PORT/v1"
        fake.configure(latency_s=0.2, fail_rate=0.3, fail_statuses=(429, 500))
        fake.configure(malformed_analysis=("table",))   # schema-less analysis answers
        fake.configure(fail_forever=True, fail_statuses=(429,), retry_after_s=2)  # throttled
        await fake.stop(); await fake.start()  # down (connections refused), then back
        ...
        fake.requests                       # [{"path", "json", "headers", "time"}, ...]
        fake.disconnects                    # streams the client abandoned mid-way
        fake.max_in_flight                  # most requests served at the same time
        fake.analysis_requests("table")     # LightRAG's table/equation/image analyses
        await fake.until(lambda f: f.disconnects > 0)   # wait for what a test expects

Serves ``POST /v1/chat/completions`` (whole, or SSE with ``stream: true``),
``POST /v1/embeddings``, ``POST /v1/rerank`` and ``GET /v1/models``; the
answers come from :mod:`tests.support.fake_answers`. Latency and failures
apply to the POST paths named in ``paths`` (all of them by default). uvicorn
runs inside the caller's event loop and installs no signal handlers.

Standalone, for benchmarks: ``python -m tests.support.fake_provider --port 8901 --latency 0.2``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support import fake_answers, openai_wire

CHAT, EMBEDDINGS, RERANK = "/v1/chat/completions", "/v1/embeddings", "/v1/rerank"


@dataclass(frozen=True)
class Behaviour:
    """What the fake does; replaced as a whole by :meth:`FakeProvider.configure`."""

    latency_s: float = 0.0
    chunk_delay_s: float = 0.005
    fail_rate: float = 0.0
    fail_statuses: tuple[int, ...] = (429, 500)
    retry_after_s: float | None = None
    fail_forever: bool = False
    fail_next: int = 0
    paths: tuple[str, ...] = (CHAT, EMBEDDINGS, RERANK)
    dim: int = 64
    reply: str | None = None
    seed: int = 0
    #: Analysis kinds ("table", "equation", "image") answered with malformed JSON.
    malformed_analysis: tuple[str, ...] = ()


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (the test process keeps its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class FakeProvider:
    host: str = "127.0.0.1"
    port: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[dict[str, Any]] = field(default_factory=list)
    disconnects: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.behaviour.seed)
        self._failures = 0
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    # -- configuration and inspection -------------------------------------------------
    def configure(self, **changes: Any) -> None:
        """Change any :class:`Behaviour` field now, e.g. ``configure(fail_forever=True)``."""
        for name in ("fail_statuses", "malformed_analysis"):
            if name in changes:
                changes[name] = tuple(changes[name])
        self.behaviour = replace(self.behaviour, **changes)
        if "seed" in changes:
            self._random = random.Random(self.behaviour.seed)

    def reset(self) -> None:
        """Default behaviour and empty records."""
        self.behaviour = Behaviour()
        self.requests.clear()
        self.disconnects = self.max_in_flight = 0
        self._random = random.Random(self.behaviour.seed)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def analysis_requests(self, kind: str) -> list[dict[str, Any]]:
        """Chat requests carrying LightRAG's ``kind`` analysis prompt (table/equation/image)."""
        return [
            r
            for r in self.requests_to(CHAT)
            if fake_answers.analysis_kind(r["json"].get("messages") or []) == kind
        ]

    async def until(self, condition: Callable[[FakeProvider], bool]) -> None:
        """Wait until ``condition(fake)`` holds (checked whenever a request starts or ends).

        Bound it with ``asyncio.timeout`` where the test could otherwise hang.
        """
        while not condition(self):
            self._changed.clear()
            await self._changed.wait()

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> FakeProvider:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Go down: the port refuses connections (in-flight requests are cut) until
        :meth:`start`, on the same port. Records and behaviour are kept."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = self._task = None

    async def start(self) -> None:
        """Serve (again, on the same port once one was chosen)."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so,
        # and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=0.5,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="fake-provider")
        while not self._server.started:
            if self._task.done():
                sock.close()
                await self._task  # raises what stopped it
            await asyncio.sleep(0.005)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(CHAT, self._chat, methods=["POST"]),
                Route(EMBEDDINGS, self._embeddings, methods=["POST"]),
                Route(RERANK, self._rerank, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    # -- handlers ----------------------------------------------------------------------
    async def _chat(self, request: Request) -> Response:
        async with self._serving(request) as (body, failure):
            if failure is not None:
                return failure
            messages = body.get("messages") or []
            text = self.behaviour.reply or fake_answers.chat_answer(
                messages, self.behaviour.malformed_analysis
            )
            text, finish = openai_wire.cut(
                text, body.get("max_tokens") or body.get("max_completion_tokens")
            )
            model = str(body.get("model"))
            if body.get("stream"):
                # The stream outlives this block: it counts its own in-flight time.
                self._enter()
                return StreamingResponse(
                    self._sse(model, text, finish), media_type="text/event-stream"
                )
            return JSONResponse(openai_wire.completion(model, messages, text, finish))

    async def _embeddings(self, request: Request) -> Response:
        async with self._serving(request) as (body, failure):
            if failure is not None:
                return failure
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else list(texts or [])
            dim = int(body.get("dimensions") or self.behaviour.dim)
            data = [
                {"object": "embedding", "index": i, "embedding": fake_answers.embedding(t, dim)}
                for i, t in enumerate(texts)
            ]
            tokens = sum(len(str(t)) for t in texts) // 4
            usage = {"prompt_tokens": tokens, "total_tokens": tokens}
            return JSONResponse(
                {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
            )

    async def _rerank(self, request: Request) -> Response:
        async with self._serving(request) as (body, failure):
            if failure is not None:
                return failure
            query, documents = str(body.get("query", "")), list(body.get("documents") or [])
            scored = sorted(
                (
                    {"index": i, "relevance_score": fake_answers.relevance(query, str(doc))}
                    for i, doc in enumerate(documents)
                ),
                key=lambda row: -row["relevance_score"],
            )
            top_n = int(body.get("top_n") or len(documents))
            return JSONResponse({"model": body.get("model"), "results": scored[:top_n]})

    async def _models(self, request: Request) -> Response:
        models = ["fake-llm", "fake-embedding", "fake-rerank"]
        data = [{"id": m, "object": "model", "owned_by": "fake"} for m in models]
        return JSONResponse({"object": "list", "data": data})

    # -- shared request handling ---------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _serving(
        self, request: Request
    ) -> AsyncIterator[tuple[dict[str, Any], Response | None]]:
        """Record the request, count it in flight, apply latency and failures."""
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        path = request.url.path
        self.requests.append(
            {"path": path, "json": body, "headers": dict(request.headers), "time": time.monotonic()}
        )
        self._enter()
        self._changed.set()
        try:
            if not isinstance(body, dict) or "_raw" in body:
                yield {}, JSONResponse({"error": {"message": "body is not a JSON object"}}, 400)
                return
            if path in self.behaviour.paths:
                await asyncio.sleep(self.behaviour.latency_s)
            yield body, self._failure(path)
        finally:
            self.in_flight -= 1
            self._changed.set()

    def _enter(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _failure(self, path: str) -> Response | None:
        b = self.behaviour
        if path not in b.paths:
            return None
        failing = b.fail_forever or b.fail_next > 0 or self._random.random() < b.fail_rate
        if not failing:
            return None
        if b.fail_next > 0:
            self.behaviour = replace(b, fail_next=b.fail_next - 1)
        status = b.fail_statuses[self._failures % len(b.fail_statuses)]
        self._failures += 1
        headers = {} if b.retry_after_s is None else {"Retry-After": f"{b.retry_after_s:g}"}
        body = {"error": {"message": f"fake failure {status}", "type": "fake_error"}}
        return JSONResponse(body, status_code=status, headers=headers)

    async def _sse(self, model: str, text: str, finish: str) -> AsyncIterator[str]:
        finished = False
        try:
            yield openai_wire.sse_chunk(model, {"role": "assistant", "content": ""}, None)
            for piece in openai_wire.pieces(text):
                await asyncio.sleep(self.behaviour.chunk_delay_s)
                yield openai_wire.sse_chunk(model, {"content": piece}, None)
            yield openai_wire.sse_chunk(model, {}, finish)
            yield "data: [DONE]\n\n"
            finished = True
        finally:
            self.in_flight -= 1
            if not finished:
                self.disconnects += 1
            self._changed.set()


async def _serve_forever(host: str, port: int, behaviour: Behaviour) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeProvider(host=host, port=port, behaviour=behaviour) as fake:
        print(f"fake provider on {fake.base_url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per POST")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--dim", type=int, default=64, help="embedding dimension")
    args = parser.parse_args()
    behaviour = Behaviour(latency_s=args.latency, fail_rate=args.fail_rate, dim=args.dim)
    asyncio.run(_serve_forever(args.host, args.port, behaviour))


if __name__ == "__main__":
    main()

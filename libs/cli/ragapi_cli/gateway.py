"""One ASGI app in front of the service apps, routing by path prefix without rewriting.

Every path of the contract answers here exactly as the separate services
answer it. The gateway runs the services' lifespans (in order, stopped in
reverse), and serves its own ``/healthz``, ``/readyz`` (ready when every
service is), ``/metrics`` (the one registry all services share) and a merged
``/openapi.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ragapi_cli.lifespan import LifespanRunner
from ragapi_common.errors import NotFound
from ragapi_common.metrics import CONTENT_TYPE_LATEST, Metrics
from ragapi_common.openapi import merge

log = logging.getLogger(__name__)


@dataclass
class Mounted:
    """A service app, the path prefixes it owns and the state its lifespan produced."""

    name: str
    app: ASGIApp
    prefixes: tuple[str, ...]
    state: dict[str, Any] = field(default_factory=dict)

    def owns(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # As an ASGI server does: each request sees a shallow copy of the lifespan state.
        await self.app({**scope, "state": dict(self.state)}, receive, send)


class Gateway:
    """Pure ASGI: lifespan, the gateway's own probes, then the first service owning the path."""

    def __init__(self, services: Sequence[Mounted], *, metrics: Metrics) -> None:
        self.services = list(services)
        self.metrics = metrics
        self._openapi: bytes | None = None
        self._own = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/metrics": self._metrics,
            "/openapi.json": self._openapi_json,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        own = self._own.get(path)
        if own is not None and scope["type"] == "http":
            response = await own() if scope["method"] in ("GET", "HEAD") else _not_allowed()
            await response(scope, receive, send)
            return
        for service in self.services:
            if service.owns(path):
                await service(scope, receive, send)
                return
        if scope["type"] == "http":
            error = NotFound(f"no route for {scope['method']} {path}")
            await JSONResponse(error.to_body(), status_code=404)(scope, receive, send)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start every service app in order; stop the started ones in reverse on exit.

        A start-up failure stops the services already started and propagates.
        """
        async with contextlib.AsyncExitStack() as stack:
            for service in self.services:
                runner = LifespanRunner(service.app, service.name)
                await runner.startup()
                stack.push_async_callback(_stop, runner)
                service.state = runner.state
                log.info("service %s started", service.name)
            yield

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol, for servers that drive the gateway themselves."""
        await receive()  # lifespan.startup
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.running())
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})

    async def fetch(self, service: Mounted, path: str) -> httpx.Response:
        """GET ``path`` from one service in-process (no socket)."""
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await client.get(path)

    async def _healthz(self) -> Response:
        return JSONResponse({"status": "ok", "service": "gateway"})

    async def _readyz(self) -> Response:
        checks: dict[str, Any] = {}
        for service in self.services:
            try:
                answer = await self.fetch(service, "/readyz")
                checks[service.name] = {"ok": answer.status_code == 200, **_json_or_text(answer)}
            except Exception as exc:
                checks[service.name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        ready = bool(checks) and all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ready else "not_ready", "service": "gateway", "checks": checks}
        headers = {} if ready else {"Retry-After": "1"}
        return JSONResponse(body, status_code=200 if ready else 503, headers=headers)

    async def _metrics(self) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def _openapi_json(self) -> Response:
        if self._openapi is None:
            documents = []
            for service in self.services:
                answer = await self.fetch(service, "/openapi.json")
                answer.raise_for_status()
                documents.append(answer.json())
            merged = merge("ragapi", documents)
            self._openapi = json.dumps(merged, ensure_ascii=False).encode()
        return Response(self._openapi, media_type="application/json")


async def _stop(runner: LifespanRunner) -> None:
    try:
        await runner.shutdown()
    except Exception:
        log.exception("service %s did not stop cleanly", runner.name)
    else:
        log.info("service %s stopped", runner.name)


def _not_allowed() -> Response:
    body = {"error": {"code": "method_not_allowed", "message": "only GET is allowed here"}}
    return JSONResponse(body, status_code=405, headers={"Allow": "GET, HEAD"})


def _json_or_text(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {"status_code": answer.status_code, "body": answer.text[:500]}
    checks = body.get("checks") if isinstance(body, dict) else None
    return {"status_code": answer.status_code, "checks": checks if checks is not None else body}

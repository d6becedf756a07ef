"""What every service app shares: error mapping, request ids, metrics, probes, OpenAPI.

:func:`build_app` wraps a service's routes into a Starlette app with
``/healthz``, ``/readyz``, ``/metrics`` and ``/openapi.json``; errors are
mapped to the contract's JSON here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragapi_common import tracing
from ragapi_common.bodies import PARSE_INLINE_BYTES, parse_json, read_capped
from ragapi_common.bus import Bus
from ragapi_common.errors import DependencyUnavailable, RagapiError
from ragapi_common.logs import request_id_var, tenant_id_var
from ragapi_common.metrics import CONTENT_TYPE_LATEST, Metrics
from ragapi_common.outages import FULL_DISK, OUTAGES, storage_full, unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def error_response(error: RagapiError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status, headers=error.headers())


async def _ragapi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RagapiError)  # noqa: S101 - the handler is registered for it
    return error_response(exc)


async def _outage(request: Request, exc: Exception) -> Response:
    """Redis, NATS or PostgreSQL is down: 503 with ``Retry-After``, one log line, no trace."""
    error = unavailable(exc)
    assert error is not None  # noqa: S101 - the handler is registered for outages only
    log.warning("%s %s: %s: %s", request.method, request.url.path, error.message, exc)
    return error_response(error)


async def _full_disk(request: Request, exc: Exception) -> Response:
    """A disk is full (Redis refuses writes, JetStream's store has no space): 507. The
    same library errors for any other reason stay what they are (a 500)."""
    error = storage_full(exc)
    if error is None:
        raise exc
    log.warning("%s %s: %s: %s", request.method, request.url.path, error.message, exc)
    return error_response(error)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
#: The status recorded for a request whose client left before an answer (nginx's 499).
_CLIENT_CLOSED = 499
_INTERNAL_ERROR = {
    "error": {"code": "internal_error", "message": "internal error (a bug: see logs)"}
}


async def read_json(request: Request, model: type[M], *, limit: int) -> M:
    """The JSON body as ``model``, the one way every service reads one: 413 past ``limit``
    bytes (before reading, when Content-Length says so), 400 if it is not JSON or nests
    too deep, 422 listing bad fields (validated strictly). See :mod:`ragapi_common.bodies`."""
    raw = await read_capped(request, limit)
    if len(raw) <= PARSE_INLINE_BYTES:
        return parse_json(raw, model)
    # Megabytes take longer to parse than the loop may be held.
    return await asyncio.to_thread(parse_json, raw, model)


class ObservedApp:
    """Pure-ASGI middleware: request id, in-flight gauge, latency by route template, and a
    server span (when tracing is on) named by the route template."""

    def __init__(self, app: ASGIApp, *, service: str, metrics: Metrics) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        # The tenant is known once the handler authenticates; none leaks in from before.
        tenant_token = tenant_id_var.set(None)
        # This request's spans are its service's (nothing set when tracing is off).
        service_token = tracing.serving(self.service) if tracing.enabled() else None
        try:
            with _server_span(scope, headers) as span:
                await self._observe(scope, receive, send, request_id, span)
        finally:
            if service_token is not None:
                tracing.reset_serving(service_token)
            tenant_id_var.reset(tenant_token)
            request_id_var.reset(token)

    async def _observe(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, span: tracing.Span
    ) -> None:
        status, started = 500, False
        began = time.perf_counter()
        in_flight = self.metrics.http_in_flight.labels(self.service)
        in_flight.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            nonlocal started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away mid-request: nothing is broken and nobody is listening.
            if not started:
                status = _CLIENT_CLOSED
            log.info("client disconnected during %s %s", scope["method"], scope["path"])
        except Exception:
            # A bug: log it once, answer the contract's 500 (with the request id) if we still can.
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status == 500 and not started:
                await JSONResponse(_INTERNAL_ERROR, status_code=500)(scope, receive, send_with_id)
        finally:
            in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.http_latency.labels(
                self.service, scope["method"], template, str(status)
            ).observe(time.perf_counter() - began)
            _describe(span, scope["method"], template, status)


def _server_span(
    scope: Scope, headers: Mapping[bytes, bytes]
) -> AbstractContextManager[tracing.Span]:
    """A span continuing the caller's W3C trace context, if any; none for the probes, whose
    polling every few seconds would bury the traces of real requests."""
    if not tracing.enabled() or scope["path"] in _PROBES:
        return tracing.untraced()
    context = {
        name: headers[key].decode("latin-1")
        for name, key in (("traceparent", b"traceparent"), ("tracestate", b"tracestate"))
        if key in headers
    }
    method = scope["method"]
    attributes = {"http.request.method": method, "url.path": scope["path"]}
    return tracing.incoming(method, "server", context, attributes)


def _describe(span: tracing.Span, method: str, template: str, status: int) -> None:
    """Name the server span by route template, as the latency metric is labelled."""
    if not tracing.enabled():
        return
    span.rename(f"{method} {template}")
    span.set("http.route", template)
    span.set("http.response.status_code", status)
    tenant = tenant_id_var.get()
    if tenant is not None:
        span.set("ragapi.tenant_id", tenant)
    if status >= 500:
        span.fail(f"HTTP {status}")


def build_app(
    *,
    service: str,
    routes: list[BaseRoute],
    lifespan: Lifespan,
    metrics: Metrics,
    readiness: ReadinessCheck,
    openapi: Mapping[str, Any],
) -> Starlette:
    """A service app: its routes plus the probes, metrics and OpenAPI every service serves."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": service})

    async def readyz(request: Request) -> Response:
        checks = await readiness()
        ready = all(check.get("ok", False) for check in checks.values())
        body = {"status": "ready" if ready else "not_ready", "service": service, "checks": checks}
        headers = {} if ready else {"Retry-After": "1"}
        return JSONResponse(body, status_code=200 if ready else 503, headers=headers)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def openapi_endpoint(request: Request) -> Response:
        return JSONResponse(openapi)

    probes = [
        Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
        Route("/readyz", readyz, methods=["GET"], include_in_schema=False),
        Route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False),
        Route("/openapi.json", openapi_endpoint, methods=["GET"], include_in_schema=False),
    ]
    app = Starlette(
        routes=[*probes, *routes],
        lifespan=_serving(service, lifespan),
        exception_handlers={
            **dict.fromkeys(FULL_DISK, _full_disk),
            **dict.fromkeys(OUTAGES, _outage),
            RagapiError: _ragapi_error,
            HTTPException: _http_error,
        },
    )
    app.add_middleware(ObservedApp, service=service, metrics=metrics)
    return app


def _serving(service: str, lifespan: Lifespan) -> Lifespan:
    """``lifespan`` naming its spans for ``service``: the workers and subscriptions it starts
    inherit the name (tasks copy their context), also beside other services (``ragapi up``)."""

    @asynccontextmanager
    async def named(app: Starlette) -> AsyncIterator[Any]:
        tracing.serving(service)
        async with lifespan(app) as state:  # the lifespan's state reaches the requests
            yield state

    return named


async def check_all(checks: Mapping[str, Callable[[], Awaitable[bool]]]) -> dict[str, Any]:
    """Run named boolean probes; a probe that raises counts as down with its reason."""
    result: dict[str, Any] = {}
    for name, probe in checks.items():
        try:
            result[name] = {"ok": bool(await probe())}
        except Exception as exc:
            result[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return result


class Slot(Generic[T]):
    """A resource the lifespan opens and handlers use: set at start, cleared at shutdown."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._value: T | None = None

    def set(self, value: T | None) -> None:
        self._value = value

    @property
    def value(self) -> T:
        if self._value is None:
            raise DependencyUnavailable(f"{self.name} is not running", retry_after=1)
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None


def dependency_checks(bus: Slot[Bus], redis: Slot[Redis]) -> ReadinessCheck:
    """The readiness probe most services need: NATS connected and Redis answering."""

    async def nats_ok() -> bool:
        return bus.ready and bus.value.connected

    async def redis_ok() -> bool:
        return redis.ready and bool(await redis.value.ping())

    return lambda: check_all({"nats": nats_ok, "redis": redis_ok})

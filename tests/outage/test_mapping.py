"""The one mapping of outages to 503 (each library's connection errors) and of a full disk
to 507, and nothing else.

PostgreSQL is covered here by asyncpg's own exception classes (a real PostgreSQL
outage would need a server of its own per test process, as its pool is process-wide);
Redis and NATS outages are exercised against real servers in ``test_dependencies``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
import pytest
import redis.exceptions
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ragapi_common.metrics import Metrics
from ragapi_common.web import build_app
from tests.support.apps import running

OUTAGE: dict[str, BaseException] = {
    "redis-refused": redis.exceptions.ConnectionError("Error 111 connecting"),
    "redis-timeout": redis.exceptions.TimeoutError("Timeout reading"),
    "redis-loading": redis.exceptions.BusyLoadingError("LOADING"),
    "nats-timeout": nats.errors.TimeoutError(),
    "nats-reconnecting": nats.errors.ConnectionReconnectingError(),
    "postgres-lost": asyncpg.ConnectionDoesNotExistError("connection was closed"),
    "postgres-starting": asyncpg.CannotConnectNowError("the database system is starting up"),
    "postgres-full": asyncpg.TooManyConnectionsError("too many clients"),
    "refused": ConnectionRefusedError(111, "Connect call failed"),
}
#: A full disk, as Redis and JetStream report it (seen in tests/faults/test_disk_full.py).
FULL: dict[str, BaseException] = {
    "redis-misconf": redis.exceptions.ResponseError(
        "MISCONF Errors writing to the AOF file: No space left on device"
    ),
    "redis-script-misconf": redis.exceptions.ResponseError(
        "Error running script (call to f_1): @user_script:4: -MISCONF Errors writing to the AOF"
    ),
    "jetstream-no-space": nats.js.errors.ServerError(
        code=500, err_code=10051, description="write .../msgs/1.blk: no space left on device"
    ),
    "jetstream-storage-exceeded": nats.js.errors.APIError(
        code=500, err_code=10047, description="insufficient storage resources available"
    ),
}
#: A wrong command, a bad query, a bug: not outages.
NOT_OUTAGE: dict[str, BaseException] = {
    "redis-wrong-type": redis.exceptions.ResponseError("WRONGTYPE"),
    "jetstream-other": nats.js.errors.BadRequestError(code=400, err_code=10003),
    "postgres-syntax": asyncpg.PostgresSyntaxError("syntax error"),
    "bug": KeyError("a bug"),
}


def make_app() -> Starlette:
    async def raising(request: Request) -> Response:
        raise {**OUTAGE, **FULL, **NOT_OUTAGE}[request.path_params["kind"]]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield

    async def readiness() -> dict[str, Any]:
        return {}

    return build_app(
        service="demo",
        routes=[Route("/raise/{kind}", raising)],
        lifespan=lifespan,
        metrics=Metrics(),
        readiness=readiness,
        openapi={"openapi": "3.1.0", "paths": {}},
    )


@pytest.mark.parametrize("kind", list(OUTAGE))
async def test_an_outage_answers_503_with_retry_after(kind: str) -> None:
    async with running(make_app()) as client:
        answer = await client.get(f"/raise/{kind}")
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "dependency_unavailable"
    assert answer.headers["retry-after"] == "1"


@pytest.mark.parametrize("kind", list(FULL))
async def test_a_full_disk_answers_507(kind: str) -> None:
    async with running(make_app()) as client:
        answer = await client.get(f"/raise/{kind}")
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"]["code"] == "insufficient_storage"
    assert "full" in answer.json()["error"]["message"]
    assert answer.headers["retry-after"] == "60"


@pytest.mark.parametrize("kind", list(NOT_OUTAGE))
async def test_anything_else_stays_a_500(kind: str) -> None:
    async with running(make_app()) as client:
        answer = await client.get(f"/raise/{kind}")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"

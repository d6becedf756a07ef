"""What the handlers and workers of one ingest app share, opened by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from starlette.requests import ClientDisconnect, Request

from ragapi_common.auth import TenantAuth
from ragapi_common.bus import Bus
from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.errors import BadRequest, PayloadTooLarge
from ragapi_common.tenancy import Effective, resolve

from .admit import Admission
from .progress import Progress
from .records import Records
from .settings import IngestSettings


@dataclass(frozen=True)
class Ingest:
    settings: IngestSettings
    bus: Bus
    redis: Redis
    auth: TenantAuth
    records: Records
    progress: Progress
    admission: Admission

    async def tenant(self, request: Request) -> tuple[TenantContext, Effective]:
        """The caller's tenant and its effective limits (401 without a valid key)."""
        ctx = await self.auth.tenant(request)
        return ctx, resolve(self.settings, ctx)


def declared_length(request: Request, limit: int) -> None:
    """413 at once when Content-Length already says the body is over ``limit``."""
    raw = request.headers.get("content-length")
    if raw is not None and raw.strip().isdigit() and int(raw) > limit:
        raise PayloadTooLarge(f"the body ({int(raw)} bytes) is over the limit of {limit} bytes")


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, refusing it (413) as soon as it passes ``limit`` bytes."""
    declared_length(request, limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
    except ClientDisconnect as exc:
        raise BadRequest("the client went away before the body ended") from exc
    return bytes(body)

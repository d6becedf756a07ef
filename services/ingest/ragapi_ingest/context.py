"""What the handlers and workers of one ingest app share, opened by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from starlette.requests import Request

from ragapi_common.auth import TenantAuth
from ragapi_common.bus import Bus
from ragapi_common.contracts.payloads import TenantContext
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

"""A tenant's context for the workers, asked of the tenants service over NATS."""

from __future__ import annotations

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import TenantContext, TenantLookupRequest


class TenantDirectory:
    """Looks up tenants by id (workers have no API key, only the job's tenant id)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def get(self, tenant_id: str) -> TenantContext:
        """The tenant and its effective config; NotFound once it is deleted."""
        return await self.bus.request(
            subjects.TENANTS_GET, TenantLookupRequest(tenant_id=tenant_id), TenantContext
        )

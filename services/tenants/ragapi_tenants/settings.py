"""Settings of the tenants service."""

from __future__ import annotations

from pydantic import Field

from ragapi_common.settings import CommonSettings


class TenantsSettings(CommonSettings):
    service_name: str = "tenants"
    max_keys_per_tenant: int = 100
    #: Largest JSON body of ``POST``/``PATCH /v1/tenants``: a config is a few KB; past it 413.
    max_tenant_body_bytes: int = Field(default=256 * 1024, ge=1024)
    #: How often the purges owed by DELETEs that could not queue them (NATS down) are queued.
    purge_sweep_interval_s: float = Field(default=30.0, gt=0)

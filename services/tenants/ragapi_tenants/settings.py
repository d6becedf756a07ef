"""Settings of the tenants service."""

from __future__ import annotations

from ragapi_common.settings import CommonSettings


class TenantsSettings(CommonSettings):
    service_name: str = "tenants"
    max_keys_per_tenant: int = 100

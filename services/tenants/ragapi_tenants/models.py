"""Request and response bodies of the tenants API (also the source of its OpenAPI)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ragapi_common.contracts.tenant import TENANT_ID_PATTERN, TenantConfig


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=TENANT_ID_PATTERN)
    name: str = Field(default="", max_length=200)
    config: TenantConfig = Field(default_factory=TenantConfig)


class TenantPatch(BaseModel):
    """A JSON merge patch: objects merge deeply, ``null`` removes a field."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None


class Tenant(BaseModel):
    id: str
    name: str
    created_at: str
    config: TenantConfig


class TenantCreated(BaseModel):
    tenant: Tenant
    api_key: str = Field(description="Shown once; only its hash is stored.")


class TenantList(BaseModel):
    tenants: list[Tenant]


class KeyCreated(BaseModel):
    key_id: str
    api_key: str


class KeyInfo(BaseModel):
    key_id: str
    created_at: str


class KeyList(BaseModel):
    keys: list[KeyInfo]

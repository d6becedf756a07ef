"""A tenant's config as stored, patched and answered; every field optional.

The deployment's settings fill what a tenant leaves unset (see
:func:`ragapi_common.tenancy.resolve_config`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

QueryMode = Literal["naive", "local", "global", "hybrid", "mix"]
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointConfig(_Section):
    """An OpenAI-compatible model endpoint."""

    base_url: HttpUrl | None = None
    model: str | None = Field(default=None, max_length=200)
    api_key: str | None = Field(default=None, max_length=4096)


class LlmConfig(EndpointConfig):
    max_concurrency: int | None = Field(default=None, ge=1, le=1024)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    timeout_s: float | None = Field(default=None, gt=0, le=3600)


class EmbeddingConfig(EndpointConfig):
    dim: int | None = Field(default=None, ge=1, le=16384)


class OcrConfig(EndpointConfig):
    engine: Literal["local", "deepseek"] | None = None
    #: A page DeepSeek-OCR cannot read is read by the local engine (and the document warns).
    fallback: bool | None = None
    #: The tenant's weight in the OCR pool's fair queue (1 = an equal share).
    weight: float | None = Field(default=None, ge=0.1, le=100)


class LimitsConfig(_Section):
    max_upload_bytes: int | None = Field(default=None, ge=1)
    max_documents: int | None = Field(default=None, ge=1)
    queries_per_minute: int | None = Field(default=None, ge=1)


class QueryConfig(_Section):
    mode: QueryMode | None = None
    top_k: int | None = Field(default=None, ge=1, le=500)


class TenantConfig(_Section):
    """The ``config`` object of the contract."""

    llm: LlmConfig | None = None
    embedding: EmbeddingConfig | None = None
    rerank: EndpointConfig | None = None
    vlm: EndpointConfig | None = None
    ocr: OcrConfig | None = None
    limits: LimitsConfig | None = None
    query: QueryConfig | None = None


#: The sections whose ``api_key`` is a secret (encrypted at rest, masked in answers).
SECRET_SECTIONS = ("llm", "embedding", "rerank", "vlm", "ocr")

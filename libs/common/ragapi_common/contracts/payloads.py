"""The JSON payloads of every subject in :mod:`.subjects`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .tenant import SECRET_SECTIONS, TenantConfig

DocumentStatus = Literal["queued", "parsing", "indexing", "processed", "failed", "deleting"]
TaskStatus = Literal["queued", "running", "succeeded", "failed", "partial"]


class Payload(BaseModel):
    """Base of every bus payload: unknown fields are kept out, values frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- tenants -------------------------------------------------------------------------------
class ResolveKeyRequest(Payload):
    """An API key by its sha256 (hex), the form it is stored in: the key never travels."""

    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class TenantLookupRequest(Payload):
    tenant_id: str


class TenantContext(Payload):
    """Who a request acts for, and its config without a single secret in clear.

    Each provider ``api_key`` of the config travels in ``sealed`` instead, as it is
    stored (SecretBox ciphertext, section -> ``enc:...``), and is opened only by the
    service that calls that provider (:func:`ragapi_common.tenancy.resolve`).
    """

    tenant_id: str
    name: str
    key_id: str | None = None
    config: TenantConfig = Field(default_factory=TenantConfig)
    sealed: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_secret_in_clear(self) -> TenantContext:
        for section in SECRET_SECTIONS:
            if getattr(getattr(self.config, section), "api_key", None) is not None:
                raise ValueError(f"config.{section}.api_key must travel sealed")
        return self


class TenantEvent(Payload):
    tenant_id: str
    key_id: str | None = None
    #: sha256 of the revoked key, so caches keyed by it can drop the entry.
    key_hash: str | None = None


# --- documents and jobs --------------------------------------------------------------------
class DocumentRef(Payload):
    """What every job about one document carries."""

    tenant_id: str
    task_id: str
    doc_id: str
    name: str
    content_type: str


class IngestJob(DocumentRef):
    object_name: str


class OcrJob(DocumentRef):
    object_name: str
    engine: Literal["local", "deepseek"] | None = None


class IndexJob(DocumentRef):
    """One of ``text``, ``text_object`` (stored UTF-8 text, for texts too large to travel
    in a message) or ``content_object`` (a stored content list in JSON) is set."""

    text: str | None = None
    text_object: str | None = None
    content_object: str | None = None
    #: What OCR degraded, kept as the document's ``warning``.
    warning: str | None = None


class DeleteJob(Payload):
    tenant_id: str
    doc_id: str
    task_id: str


class PurgeJob(Payload):
    tenant_id: str


class DocumentEvent(Payload):
    tenant_id: str
    doc_id: str
    task_id: str | None = None
    status: DocumentStatus
    error: str | None = None


class TaskEvent(Payload):
    tenant_id: str
    task_id: str
    status: TaskStatus
    total: int
    done: int
    failed: int


# --- OCR -----------------------------------------------------------------------------------
class OcrRequest(Payload):
    tenant_id: str
    object_name: str
    content_type: str
    engine: Literal["local", "deepseek"] | None = None


class OcrResult(Payload):
    """Markdown plus a content list in RAG-Anything's item format."""

    engine: str
    pages: int
    markdown: str
    content: list[dict[str, Any]]
    #: What was degraded (a page read by the local engine when DeepSeek-OCR could not).
    warnings: list[str] = Field(default_factory=list)

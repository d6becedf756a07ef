"""A tenant's effective settings: its config over the deployment's defaults.

This is where a tenant's provider secrets are opened: they arrive sealed in the
:class:`TenantContext` and are decrypted here, in the process that calls the
provider, with ``RAGAPI_SECRET_KEY``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.contracts.tenant import EndpointConfig, QueryMode
from ragapi_common.secrets import SecretBox
from ragapi_common.settings import CommonSettings


@dataclass(frozen=True)
class Endpoint:
    """A resolved OpenAI-compatible endpoint; ``configured`` is False when unset."""

    base_url: str
    model: str
    api_key: str = field(repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


@dataclass(frozen=True)
class LlmLimits:
    max_concurrency: int
    requests_per_minute: int
    tokens_per_minute: int
    timeout_s: float


@dataclass(frozen=True)
class Effective:
    """Everything a worker or query needs to know about one tenant's models and limits."""

    llm: Endpoint
    llm_limits: LlmLimits
    embedding: Endpoint
    embedding_dim: int
    rerank: Endpoint
    vlm: Endpoint
    ocr_engine: str
    ocr: Endpoint
    max_upload_bytes: int
    max_documents: int
    queries_per_minute: int
    query_mode: QueryMode
    top_k: int


@functools.lru_cache(maxsize=4)
def _box(secret_key: str) -> SecretBox:
    return SecretBox(secret_key)


@functools.lru_cache(maxsize=1024)
def _open(secret_key: str, sealed: str) -> str:
    """One key, decrypted once per process (~45 us each; a query resolves its tenant twice)."""
    return _box(secret_key).decrypt(sealed)


def _endpoint(section: EndpointConfig | None, url: str, model: str, key: str) -> Endpoint:
    section = section or EndpointConfig()
    return Endpoint(
        base_url=str(section.base_url or url).rstrip("/"),
        model=section.model or model,
        api_key=key,
    )


def _keys(settings: CommonSettings, tenant: TenantContext) -> dict[str, str]:
    """The tenant's provider keys, opened: the only place they are decrypted."""
    secret_key = settings.secret_key.get_secret_value()
    return {section: _open(secret_key, sealed) for section, sealed in tenant.sealed.items()}


def resolve(settings: CommonSettings, tenant: TenantContext) -> Effective:
    """Fill every unset tenant field from the deployment's ``RAGAPI_*`` defaults."""
    s, config, keys = settings, tenant.config, _keys(settings, tenant)
    llm, emb, ocr = config.llm, config.embedding, config.ocr
    limits, query = config.limits, config.query
    return Effective(
        llm=_endpoint(
            llm, s.llm_base_url, s.llm_model, keys.get("llm", s.llm_api_key.get_secret_value())
        ),
        llm_limits=LlmLimits(
            max_concurrency=(llm and llm.max_concurrency) or s.llm_max_concurrency,
            requests_per_minute=(llm and llm.requests_per_minute) or s.llm_requests_per_minute,
            tokens_per_minute=(llm and llm.tokens_per_minute) or s.llm_tokens_per_minute,
            timeout_s=(llm and llm.timeout_s) or s.llm_timeout_s,
        ),
        embedding=_endpoint(
            emb,
            s.embedding_base_url,
            s.embedding_model,
            keys.get("embedding", s.embedding_api_key.get_secret_value()),
        ),
        embedding_dim=(emb and emb.dim) or s.embedding_dim,
        rerank=_endpoint(
            config.rerank,
            s.rerank_base_url,
            s.rerank_model,
            keys.get("rerank", s.rerank_api_key.get_secret_value()),
        ),
        vlm=_endpoint(config.vlm, "", "", keys.get("vlm", "")),
        ocr_engine=(ocr and ocr.engine) or s.ocr_engine,
        ocr=_endpoint(
            ocr, s.ocr_base_url, s.ocr_model, keys.get("ocr", s.ocr_api_key.get_secret_value())
        ),
        max_upload_bytes=(limits and limits.max_upload_bytes) or s.max_upload_bytes,
        max_documents=(limits and limits.max_documents) or s.max_documents,
        queries_per_minute=(limits and limits.queries_per_minute) or s.queries_per_minute,
        query_mode=(query and query.mode) or "mix",
        top_k=(query and query.top_k) or 40,
    )

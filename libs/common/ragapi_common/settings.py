"""Settings read once from ``RAGAPI_*`` environment variables, frozen afterwards.

Each service extends :class:`CommonSettings` with its own fields; nothing reads
the environment anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """What every service needs: where the bus and Redis are, secrets, defaults."""

    model_config = SettingsConfigDict(env_prefix="RAGAPI_", frozen=True, extra="ignore")

    service_name: str = "ragapi"
    nats_url: str = "nats://127.0.0.1:4222"
    # This service's own NATS user (contracts/access.py says what it may do); unset: none.
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = 64
    # A dependency that is down answers 503 at once (docs/decisions/0700-dependency-outages.md):
    # how long a Redis connect or command, or a JetStream call (publish acknowledgement,
    # object store), may take before it counts as an outage. A dead server is noticed at
    # once; these bound a hung one. Above the event loop's worst stalls under indexing
    # load (~1 s measured): 0.5 s failed healthy requests.
    redis_timeout_s: float = Field(default=2.0, gt=0)
    nats_timeout_s: float = Field(default=2.0, gt=0)
    # JetStream replicas of the job stream and the file bucket: 3 on a three-server cluster
    # (deploy/k8s/components/nats-cluster), so a lost server loses no job and no file.
    nats_replicas: int = Field(default=1, ge=1, le=5)
    # A client silent this long in the middle of a request (its head or body) is cut off:
    # slow-loris connections do not hold sockets and buffers for ever.
    http_read_timeout_s: float = Field(default=30.0, gt=0)
    admin_token: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    data_dir: Path = Path("data")
    storage_profile: Literal["local", "postgres"] = "local"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # One asyncpg pool per process, shared by every tenant's storages. The deployment's pools
    # must fit: processes x max_connections <= the server's max_connections - its reserved
    # connections - reserved_connections here; checked when the pool opens (decision 0603).
    postgres_max_connections: int = Field(default=20, gt=0)
    postgres_processes: int = Field(default=1, ge=1)
    postgres_reserved_connections: int = Field(default=10, ge=0)
    # Vectors in Qdrant instead of the profile's store (docs/decisions/0601): a server URL,
    # or ":memory:" / "path:<dir>" for qdrant-client's in-process local mode (tests, laptops).
    vector_store: Literal["profile", "qdrant"] = "profile"
    qdrant_url: str = "http://127.0.0.1:6333"
    qdrant_api_key: SecretStr = SecretStr("")
    qdrant_timeout_s: float = Field(default=5.0, gt=0)
    qdrant_prefer_grpc: bool = False
    # The postgres profile's per-tenant write lock in Redis: freed this long after a crash.
    index_lock_ttl_s: float = Field(default=30.0, gt=0)
    # It goes back between groups of inserts: a group takes this many documents, or new ones
    # for this long, then the next replica waiting for the tenant writes (decision 0602).
    index_group_docs: int = Field(default=32, ge=1)
    index_group_s: float = Field(default=60.0, gt=0)
    # Documents of one tenant indexed at once by one process: LightRAG's max_parallel_insert
    # and the ingest workers' per-tenant slots (docs/decisions/0301).
    index_tenant_limit: int = Field(default=16, ge=1)
    # The local profile's JSON storages are written once per batch of documents: a batch
    # waits this long for more documents, unless every insert in flight already waits
    # (docs/decisions/0303).
    index_commit_window_s: float = Field(default=0.25, ge=0)
    # LightRAG's second "anything missed?" extraction call per chunk; 0 halves LLM calls.
    entity_extract_max_gleaning: int = Field(default=1, ge=0)
    log_level: str = "INFO"
    log_json: bool = True
    # Key lookups cached this long; revocation events drop them at once (milliseconds). Only
    # a process that missed the event (NATS down then) waits for this: <= 1 s bounds that
    # too, at one lookup per key per TTL (docs/decisions/0907).
    auth_cache_ttl_s: float = Field(default=30.0, gt=0)
    request_deadline_s: float = 120.0
    loop_lag_interval_s: float = 0.25
    shutdown_grace_s: float = 20.0

    # Deployment-wide model defaults; a tenant's config overrides each field.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_max_concurrency: int = 8
    # 0 = no budget of ours: the provider's own 429s (Retry-After honoured) still apply.
    llm_requests_per_minute: int = Field(default=0, ge=0)
    llm_tokens_per_minute: int = Field(default=0, ge=0)
    llm_timeout_s: float = 120.0
    embedding_base_url: str = ""
    embedding_model: str = ""
    embedding_api_key: SecretStr = SecretStr("")
    embedding_dim: int = 0
    rerank_base_url: str = ""
    rerank_model: str = ""
    rerank_api_key: SecretStr = SecretStr("")
    ocr_engine: Literal["local", "deepseek"] = "local"
    ocr_base_url: str = ""
    ocr_model: str = "deepseek-ai/DeepSeek-OCR"
    ocr_api_key: SecretStr = SecretStr("")

    # Tenant limit defaults.
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    max_documents: int = 100_000
    queries_per_minute: int = 600

    @property
    def tenants_dir(self) -> Path:
        """Where the ``local`` storage profile keeps each tenant's files."""
        return self.data_dir / "tenants"

"""Building one tenant's LightRAG instance from its effective config."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from ragapi_common.errors import RagapiError
from ragapi_common.models import Embedder, LlmClient, Reranker
from ragapi_common.settings import CommonSettings
from ragapi_common.tenancy import Effective

from . import functions, locks, multimodal
from ._lightrag import STORAGES, LightRAG
from .commits import GroupCommit
from .marker import ensure_embedder
from .pg_budget import Planned
from .tenant import Capabilities, LightRagTenant
from .tokenizer import OfflineTokenizer
from .writes import GroupBounds

#: ``(tenant_id, effective config) -> the embedder its index uses``
EmbedderFor = Callable[[str, Effective], Embedder]

#: USE-multilingual similarities of related passages sit lower than OpenAI's.
COSINE_THRESHOLD = 0.1


def embedders(local: Embedder, remote: EmbedderFor) -> EmbedderFor:
    """The bundled ``local`` embedder unless the tenant configures an endpoint."""

    def choose(tenant_id: str, effective: Effective) -> Embedder:
        return remote(tenant_id, effective) if effective.embedding.configured else local

    return choose


@dataclass(frozen=True)
class Models:
    """The process's shared model clients (the registry's caller owns them)."""

    llm: LlmClient
    embedder_for: EmbedderFor
    reranker: Reranker | None = None
    #: The ``postgres`` profile's per-tenant index locks live here.
    redis: Redis | None = None


def _lightrag_kwargs(
    settings: CommonSettings, tenant_id: str, effective: Effective, models: Models,
    embedder: Embedder, tokenizer: OfflineTokenizer,
) -> dict[str, Any]:  # fmt: skip
    rerank = models.reranker is not None and effective.rerank.configured
    llm = (
        functions.llm_function(models.llm, tenant_id, effective)
        if effective.llm.configured
        else functions.no_llm_function()
    )
    return {
        "working_dir": str(settings.tenants_dir),
        "workspace": tenant_id,
        **STORAGES[settings.storage_profile],
        "tokenizer": tokenizer,
        "llm_model_func": llm,
        "llm_model_name": effective.llm.model or "none",
        "embedding_func": functions.embedding_function(embedder, functions.QueryEmbeddingCache()),
        "rerank_model_func": (
            functions.rerank_function(models.reranker, tenant_id, effective)
            if rerank and models.reranker is not None
            else None
        ),
        # LightRAG queues each LLM role separately, one worker task per slot, each waking
        # every second: 1.5 MB and a busy loop per tenant at 512 (decision 0502). Only
        # indexing uses the queues (queries call the model directly), so two calls per
        # document indexed at once are enough; the tenant's own bound still applies.
        "llm_model_max_async": min(
            effective.llm_limits.max_concurrency, 2 * settings.index_tenant_limit
        ),
        # Documents indexed at once within one pipeline run (see .writes).
        "max_parallel_insert": settings.index_tenant_limit,
        "entity_extract_max_gleaning": settings.entity_extract_max_gleaning,
        "enable_llm_cache": True,
        "enable_llm_cache_for_entity_extract": True,
        "cosine_better_than_threshold": COSINE_THRESHOLD,
        # LightRAG's image analysis (content lists) goes to the tenant's VLM, if any.
        **multimodal.vlm_settings(models.llm, tenant_id, effective),
    }


async def build_tenant(
    settings: CommonSettings,
    tenant_id: str,
    effective: Effective,
    models: Models,
    tokenizer: OfflineTokenizer,
) -> LightRagTenant:
    """A ready (storages initialized) instance; refuses an index of another embedder."""
    if settings.storage_profile not in STORAGES:
        raise RagapiError(f"storage profile {settings.storage_profile!r} is not available")
    embedder = models.embedder_for(tenant_id, effective)
    kwargs = _lightrag_kwargs(settings, tenant_id, effective, models, embedder, tokenizer)
    if settings.vector_store == "qdrant":
        kwargs["vector_storage"] = await _qdrant_storage(settings)
    index_lock = locks.in_process()
    commits, groups = None, GroupBounds()
    if settings.storage_profile == "postgres":
        index_lock = _redis_lock(settings, models, tenant_id)
        groups = GroupBounds(settings.index_group_docs, settings.index_group_s)
        rag = await _open_postgres(settings, tenant_id, embedder, kwargs)
    else:
        await ensure_embedder(settings.tenants_dir / tenant_id, embedder.id, embedder.dim)
        rag = await _open(kwargs)
        commits = GroupCommit(
            window_s=settings.index_commit_window_s, batch=settings.index_tenant_limit
        )
    # The storages a query embeds through (its question, its keywords).
    for storage in (rag.chunks_vdb, rag.entities_vdb, rag.relationships_vdb, rag.text_chunks):
        functions.queries_skip_the_queue(storage, kwargs["embedding_func"])
    capabilities = Capabilities(
        llm=effective.llm.configured,
        rerank=kwargs["rerank_model_func"] is not None,
        default_mode=effective.query_mode,
        default_top_k=effective.top_k,
        vlm=effective.vlm.configured,
    )
    return LightRagTenant(
        tenant_id, rag, capabilities, index_lock=index_lock, commits=commits, groups=groups
    )


async def _open(kwargs: dict[str, Any]) -> LightRAG:
    # The constructor creates directories and reaps temp files: file I/O, off the loop.
    rag = await asyncio.to_thread(lambda: LightRAG(**kwargs))
    try:
        await rag.initialize_storages()
    except BaseException:
        # Give back what the storages that did start took (the shared PG pool's references).
        with contextlib.suppress(Exception):
            await rag.finalize_storages()
        raise
    return rag


async def _open_postgres(
    settings: CommonSettings, tenant_id: str, embedder: Embedder, kwargs: dict[str, Any]
) -> LightRAG:
    from . import postgres  # asyncpg and LightRAG's PG module: only where the profile runs

    postgres.configure(
        settings.postgres_dsn, settings.postgres_max_connections, kwargs["vector_storage"],
        _planned(settings),
    )  # fmt: skip
    kwargs["embedding_func"] = postgres.table_safe(kwargs["embedding_func"])
    async with postgres.pool_reference() as db:
        await postgres.ensure_embedder(db, tenant_id, embedder.id, embedder.dim)
        return await _open(kwargs)


async def _qdrant_storage(settings: CommonSettings) -> str:
    """Vectors in Qdrant (docs/decisions/0601): its storage's name, the client configured."""
    # qdrant_client's first import (~0.3 s, grpc and pydantic models) stays off the loop.
    storage = await asyncio.to_thread(importlib.import_module, f"{__package__}.qdrant_storage")
    storage.qdrant.configure(storage.qdrant.config_of(settings))
    return str(storage.NAME)


def _planned(settings: CommonSettings) -> Planned:
    return Planned(
        processes=settings.postgres_processes,
        pool=settings.postgres_max_connections,
        reserve=settings.postgres_reserved_connections,
    )


def _redis_lock(settings: CommonSettings, models: Models, tenant_id: str) -> locks.IndexLock:
    if models.redis is None:
        raise RagapiError("the postgres storage profile needs Redis for its index locks")
    return locks.RedisIndexLock(models.redis, tenant_id, ttl_s=settings.index_lock_ttl_s)


async def drop_stored(settings: CommonSettings, models: Models, tenant_id: str) -> None:
    """Delete what the profile keeps of a tenant outside its loaded instance.

    ``postgres``: the tenant's rows in every LightRAG table (every embedder's
    vector tables) and its embedder record, under its index lock, whether or
    not this process has the tenant loaded. ``local``: nothing (the caller
    removes the tenant's directory). Qdrant vectors: the tenant's points in every
    ragapi collection (every dimension it used).
    """
    vectors = STORAGES["postgres"]["vector_storage"]
    if settings.vector_store == "qdrant":
        vectors = await _qdrant_storage(settings)
        from . import qdrant

        await qdrant.delete_tenant(tenant_id)
    if settings.storage_profile != "postgres":
        return
    from . import postgres

    postgres.configure(
        settings.postgres_dsn, settings.postgres_max_connections, vectors, _planned(settings)
    )
    async with _redis_lock(settings, models, tenant_id)():
        await postgres.drop_workspace(tenant_id)


async def close_stored(settings: CommonSettings) -> None:
    """Let the profile's process-wide resources go (the registry closes): the PG pool."""
    if settings.vector_store == "qdrant":
        from . import qdrant

        await qdrant.close()
    if settings.storage_profile == "postgres":
        from . import postgres

        await postgres.release_pool()

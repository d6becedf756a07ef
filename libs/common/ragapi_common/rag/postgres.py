"""The ``postgres`` storage profile: LightRAG's PostgreSQL storages on one shared pool.

LightRAG's PG storages take their connection from ``ClientManager``, one
asyncpg pool per process, configured from ``POSTGRES_*`` environment variables
when the pool is first opened and reference-counted by the storages that use
it: each tenant instance's storages take references on ``initialize_storages``
and give them back on ``finalize_storages``, and this module keeps one more
from first use until the registry closes. Evicting a tenant therefore never
closes the pool the others use, and the pool closes with the registry.

Rows carry a ``workspace`` column, the tenant id. Vector tables are named per
embedder, ``LIGHTRAG_VDB_<KIND>_<model>_<dim>d``, so tenants of different
embedders (and dimensions) sit in different tables of one database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib.util
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ragapi_common.errors import Conflict, DependencyUnavailable, RagapiError

from ._lightrag import STORAGES, EmbeddingFunc
from .outages import OUTAGES
from .pg_budget import Planned, check

#: The longest vector table prefix, ``LIGHTRAG_VDB_RELATION_``, plus PostgreSQL's 63.
log = logging.getLogger(__name__)

_MAX_SUFFIX = 63 - len("LIGHTRAG_VDB_RELATION_")

_MARKER_DDL = """CREATE TABLE IF NOT EXISTS ragapi_index (
    workspace VARCHAR(255) PRIMARY KEY,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL
)"""

_WORKSPACE_TABLES = """SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name = 'workspace'
  AND (table_name LIKE 'lightrag%' OR table_name = 'ragapi_index')"""

#: LightRAG retries a failed connect or query 10 times, backing off up to 30 s: a
#: request would hang for minutes on a database that is down. A few quick tries,
#: then a 503 the client can retry (any of these set in the environment wins).
_RETRIES = {
    "POSTGRES_CONNECTION_RETRIES": "3",
    "POSTGRES_CONNECTION_RETRY_BACKOFF": "0.5",
    "POSTGRES_CONNECTION_RETRY_BACKOFF_MAX": "5",
}

#: What opening the pool raises when the server cannot be reached.
_CANNOT_CONNECT: tuple[type[Exception], ...] = (OSError, TimeoutError, *OUTAGES)

_configured: dict[str, str] | None = None
_planned: Planned | None = None
_vector_storage = STORAGES["postgres"]["vector_storage"]
_kept: Any = None
_keeping = asyncio.Lock()


def lightrag_env(dsn: str, max_connections: int) -> dict[str, str]:
    """The ``POSTGRES_*`` variables LightRAG reads, from a ``postgresql://`` DSN.

    A ``host`` query parameter (a Unix socket directory) wins over the netloc,
    as in libpq; ``sslmode`` maps to LightRAG's SSL mode.
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise RagapiError(f"RAGAPI_POSTGRES_DSN must be a postgresql:// URL, not {parts.scheme!r}")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    env = {
        "POSTGRES_HOST": query.get("host") or parts.hostname or "localhost",
        "POSTGRES_PORT": query.get("port") or str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "") or query.get("user") or "postgres",
        # LightRAG insists on a password; an empty one is what trust/peer auth sends.
        "POSTGRES_PASSWORD": unquote(parts.password or "") or query.get("password", ""),
        "POSTGRES_DATABASE": unquote(parts.path.lstrip("/")) or query.get("dbname") or "postgres",
        "POSTGRES_MAX_CONNECTIONS": str(max_connections),
    }
    if "sslmode" in query:
        env["POSTGRES_SSL_MODE"] = query["sslmode"]
    return env


def configure(
    dsn: str, max_connections: int, vector_storage: str = STORAGES["postgres"]["vector_storage"],
    planned: Planned | None = None,
) -> None:  # fmt: skip
    """Point LightRAG's process-wide pool at ``dsn``; refuse a second DSN while it is open.

    ``POSTGRES_WORKSPACE`` is removed: LightRAG would let it override every
    tenant's workspace, putting all tenants into one. ``vector_storage`` is the
    instances' vector storage (LightRAG keys its pool by it; Qdrant's, decision
    0601, opens the pool without pgvector). ``planned``: the deployment's pools,
    checked against the server's ``max_connections`` when the pool first opens.
    """
    global _configured, _vector_storage, _planned
    _vector_storage, _planned = vector_storage, planned
    for module in ("asyncpg", "pgvector"):
        # LightRAG pip-installs a missing driver at run time; ragapi never does.
        if importlib.util.find_spec(module) is None:
            raise RagapiError(f"the postgres profile needs {module}: install ragapi[postgres]")
    env = lightrag_env(dsn, max_connections)
    if _configured is not None and env != _configured and _pool_open():
        raise RagapiError("the PostgreSQL pool is process-wide: one DSN per process")
    os.environ.pop("POSTGRES_WORKSPACE", None)
    os.environ.update(env)
    for name, value in _RETRIES.items():
        os.environ.setdefault(name, value)
    _configured = env
    _reconnect_without_deadlock()


def _reconnect_without_deadlock() -> None:
    """LightRAG 1.5.7 deadlocks when PostgreSQL is still away as the pool is reopened.

    After an outage the pool is reset (``pool = None``); the next query runs
    ``_ensure_pool``, which holds ``_pool_reconnect_lock`` while ``initdb``
    retries, and ``initdb``'s retry hook ``_before_sleep`` calls
    ``_reset_pool``, which waits for that same lock: every query of the
    process hangs for ever (seen with ``ragapi up --workers 2`` when its
    embedded PostgreSQL was killed and restarted). The hook skips the reset
    while the lock is held: whoever holds it is opening a new pool anyway.
    """
    from lightrag.kg.postgres_impl import PostgreSQLDB

    original = PostgreSQLDB._before_sleep
    if getattr(original, "ragapi_patched", False):
        return

    async def before_sleep(db: Any, retry_state: Any) -> None:
        if db._pool_reconnect_lock.locked():
            log.warning("PostgreSQL unreachable while the pool reopens; retrying")
            return
        await original(db, retry_state)

    before_sleep.ragapi_patched = True  # type: ignore[attr-defined]
    PostgreSQLDB._before_sleep = before_sleep


def _client_manager() -> Any:
    from lightrag.kg.postgres_impl import ClientManager

    return ClientManager


def _pool_open() -> bool:
    return _client_manager()._instances["db"] is not None


@asynccontextmanager
async def pool_reference() -> AsyncIterator[Any]:
    """Hold one reference to the shared client (``PostgreSQLDB``) while building.

    Opening the pool connects, creates the pgvector extension and runs
    LightRAG's table checks (~150 ms even when the tables exist), so the first
    use also takes a keeping reference: tenants coming and going never close
    the pool, only :func:`release_pool` (the registry's close) lets it go.
    """
    global _kept
    # The first import of LightRAG's PG module (~40 ms, 10 000 lines) stays off the loop.
    manager = await asyncio.to_thread(_client_manager)
    try:
        db = await manager.get_client(vector_storage=_vector_storage)
    except _CANNOT_CONNECT as error:
        where = f"{os.environ['POSTGRES_HOST']}:{os.environ['POSTGRES_PORT']}"
        raise DependencyUnavailable(f"PostgreSQL at {where} is unavailable: {error}") from error
    try:
        async with _keeping:  # two tenants opening at once must not both keep one
            if _kept is None:
                await db.execute(_MARKER_DDL, ignore_if_exists=True)
                if _planned is not None:
                    await check(db, _planned)  # warns when the deployment's pools cannot fit
                _kept = await manager.get_client(vector_storage=_vector_storage)
        yield db
    finally:
        await manager.release_client(db)


async def release_pool() -> None:
    """Give back the reference that keeps the pool open between tenants (registry close).

    The pool closes once no tenant instance uses it either; the next use opens
    it again and takes a new keeping reference.
    """
    global _kept
    if _kept is not None:
        kept, _kept = _kept, None
        await _client_manager().release_client(kept)


async def ensure_embedder(db: Any, workspace: str, embedder_id: str, dim: int) -> None:
    """Record the tenant's embedder on first use; :class:`Conflict` on a different one."""
    await db.execute(
        "INSERT INTO ragapi_index (workspace, embedder, dim) VALUES ($1, $2, $3)"
        " ON CONFLICT (workspace) DO NOTHING",
        {"workspace": workspace, "embedder": embedder_id, "dim": dim},
    )
    row = await db.query("SELECT embedder, dim FROM ragapi_index WHERE workspace = $1", [workspace])
    recorded = {"embedder": row["embedder"], "dim": row["dim"]} if row else None
    wanted = {"embedder": embedder_id, "dim": dim}
    if recorded is None or recorded == wanted:
        return
    if not await _has_documents(db, workspace):
        # Nothing indexed with the old one any more: the new embedder takes over.
        await db.execute(
            "UPDATE ragapi_index SET embedder = $2, dim = $3 WHERE workspace = $1",
            {"workspace": workspace, "embedder": embedder_id, "dim": dim},
        )
        return
    raise Conflict(
        f"this knowledge base was indexed with embedder {recorded['embedder']!r}"
        f" ({recorded['dim']}-d); it cannot be opened with {embedder_id!r}"
        f" ({dim}-d): delete its documents or restore the embedding config",
        details={"indexed_with": recorded, "configured": wanted},
    )


async def _has_documents(db: Any, workspace: str) -> bool:
    row = await db.query(
        "SELECT EXISTS (SELECT 1 FROM lightrag_doc_status WHERE workspace = $1) AS found",
        [workspace],
    )
    return bool(row and row["found"])


async def drop_workspace(workspace: str) -> None:
    """Delete ``workspace``'s rows from every LightRAG table and its embedder record.

    Every table with a ``workspace`` column, so the vector tables of embedders
    the tenant used before are emptied too; graph edges go before their nodes.
    """
    async with pool_reference() as db:
        rows = await db.query(_WORKSPACE_TABLES, multirows=True)
        names = sorted((row["table_name"] for row in rows), key=lambda name: "edges" not in name)
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            # The name comes from the catalog, quoted; the tenant id is a parameter.
            sql = f"DELETE FROM {quoted} WHERE workspace = $1"  # noqa: S608
            await db.execute(sql, {"workspace": workspace})


def table_safe(func: EmbeddingFunc) -> EmbeddingFunc:
    """``func`` with a model name whose vector table names fit PostgreSQL's 63 bytes.

    LightRAG names the tables ``<prefix>_<model>_<dim>d`` and refuses longer
    names; a long model name keeps its head and gets a hash of the whole.
    """
    name = str(func.model_name or "")
    safe = re.sub(r"[^a-zA-Z0-9_]", "_", name.lower())
    if len(f"{safe}_{func.embedding_dim}d") <= _MAX_SUFFIX:
        return func
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    head = _MAX_SUFFIX - len(f"__{digest}_{func.embedding_dim}d")
    return dataclasses.replace(func, model_name=f"{safe[:head]}_{digest}")

"""Qdrant for vectors (``RAGAPI_VECTOR_STORE=qdrant``): the one module that imports qdrant_client.

One ``AsyncQdrantClient`` per process, shared by every tenant's storages (like
the PostgreSQL pool): :func:`configure` before the first tenant opens, :func:`close`
with the registry. Tenants share collections, the way Qdrant recommends
multi-tenancy at scale (docs/decisions/0601): one collection per LightRAG
namespace and embedding dimension, ``ragapi_<namespace>_<dim>``, with a
``tenant_id`` keyword index marked ``is_tenant`` (Qdrant keeps each tenant's
points together and builds one HNSW graph per tenant, ``payload_m``, no global
graph, ``m=0``). Every read and delete here is filtered by tenant; point ids
are UUIDs derived from (tenant, LightRAG id), so one tenant cannot address
another's points either.

A URL of ``:memory:`` or ``path:<dir>`` runs qdrant-client's local mode: an
in-process Python implementation, for tests and laptops only (it computes on
the event loop's thread; ``path:`` also writes files there).
"""

from __future__ import annotations

import asyncio
import functools
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import grpc
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException

from ragapi_common.errors import DependencyUnavailable, RagapiError
from ragapi_common.settings import CommonSettings

#: The payload field every point carries: the LightRAG workspace, ragapi's tenant id.
TENANT = "tenant_id"
PREFIX = "ragapi_"
_IDS = uuid.UUID("7d3c6a86-5d0e-4a43-9a55-6f2b1c0e2f41")


@dataclass(frozen=True)
class Config:
    url: str
    api_key: str = ""
    timeout_s: float = 5.0
    prefer_grpc: bool = False


@dataclass(frozen=True)
class Point:
    id: str
    vector: list[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    payload: dict[str, Any]
    score: float
    vector: list[float] | None = None


P = ParamSpec("P")
R = TypeVar("R")
_DOWN = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _outage(call: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A server that cannot be reached (or times out) answers 503 ``dependency_unavailable``."""

    @functools.wraps(call)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await call(*args, **kwargs)
        except grpc.RpcError as error:
            if not isinstance(error, grpc.aio.AioRpcError) or error.code() not in _DOWN:
                raise
            raise DependencyUnavailable(f"Qdrant is unavailable: {error.code()}") from error
        except (ResponseHandlingException, OSError, TimeoutError) as error:
            raise DependencyUnavailable(f"Qdrant is unavailable: {error}") from error

    return guarded


def config_of(settings: CommonSettings) -> Config:
    return Config(
        url=settings.qdrant_url,
        api_key=settings.qdrant_api_key.get_secret_value(),
        timeout_s=settings.qdrant_timeout_s,
        prefer_grpc=settings.qdrant_prefer_grpc,
    )


_config: Config | None = None
_client: AsyncQdrantClient | None = None
_ready: set[str] = set()
_creating = asyncio.Lock()


def configure(config: Config) -> None:
    """Where the process's client connects; refuse a second place while it is open."""
    global _config
    if _client is not None and config != _config:
        raise RagapiError("the Qdrant client is process-wide: one URL per process")
    _config = config


def client() -> AsyncQdrantClient:
    """The process's client, created on first use (no I/O until its first call)."""
    global _client
    if _client is None:
        if _config is None:
            raise RagapiError("Qdrant is not configured (RAGAPI_VECTOR_STORE=qdrant)")
        _client = _open(_config)
    return _client


def _open(config: Config) -> AsyncQdrantClient:
    if config.url == ":memory:":
        return AsyncQdrantClient(location=":memory:")
    if config.url.startswith("path:"):
        return AsyncQdrantClient(path=config.url.removeprefix("path:"))
    return AsyncQdrantClient(
        url=config.url,
        # The compatibility check is a blocking httpx.get in the constructor: off the loop's
        # path entirely (the server's version is an operations concern, see docs/operations.md).
        check_compatibility=False,
        api_key=config.api_key or None,
        timeout=math.ceil(config.timeout_s),
        prefer_grpc=config.prefer_grpc,
    )


async def close() -> None:
    """Close the process's client (the registry closes); the next use opens a new one."""
    global _client, _creating
    if _client is not None:
        closing, _client = _client, None
        _ready.clear()
        _creating = asyncio.Lock()  # the next loop's (tests run one loop each)
        await closing.close()


def point_id(tenant: str, key: str) -> str:
    """The point id of LightRAG id ``key`` of ``tenant``: stable, and never another tenant's."""
    return str(uuid.uuid5(_IDS, f"{tenant}\x00{key}"))


def collection(namespace: str, dim: int) -> str:
    return f"{PREFIX}{namespace}_{dim}"


@_outage
async def ensure_collection(name: str, dim: int, keywords: Sequence[str] = ()) -> None:
    """Create ``name`` (cosine, ``dim``) with its tenant index, once per process."""
    if name in _ready:
        return
    async with _creating:
        if name in _ready:
            return
        db = client()
        if not await db.collection_exists(name):
            try:
                await db.create_collection(
                    name,
                    vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
                    hnsw_config=models.HnswConfigDiff(payload_m=16, m=0),
                )
            except Exception:
                if not await db.collection_exists(name):  # another replica won the race
                    raise
        if not _local():  # local mode has no payload indexes (and warns)
            await _index(db, name, keywords)
        _ready.add(name)


def _local() -> bool:
    return _config is not None and (_config.url == ":memory:" or _config.url.startswith("path:"))


async def _index(db: AsyncQdrantClient, name: str, keywords: Sequence[str]) -> None:
    """The tenant index (``is_tenant``: the tenant's points stored together) and ``keywords``."""
    tenant_index = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    await db.create_payload_index(name, TENANT, field_schema=tenant_index, wait=True)
    for field in keywords:
        keyword = models.PayloadSchemaType.KEYWORD
        await db.create_payload_index(name, field, field_schema=keyword, wait=True)


def _tenant(tenant: str, *more: models.Condition) -> models.Filter:
    match = models.FieldCondition(key=TENANT, match=models.MatchValue(value=tenant))
    return models.Filter(must=[match, *more])


@_outage
async def upsert(name: str, points: Sequence[Point], batch: int = 256) -> None:
    db = client()
    for start in range(0, len(points), batch):
        structs = [
            models.PointStruct(id=p.id, vector=p.vector, payload=p.payload)
            for p in points[start : start + batch]
        ]
        await db.upsert(name, points=structs, wait=True)


@_outage
async def search(
    name: str, tenant: str, vector: Sequence[float], limit: int, threshold: float
) -> list[Hit]:
    response = await client().query_points(
        name,
        query=list(vector),
        limit=limit,
        with_payload=True,
        score_threshold=threshold,
        query_filter=_tenant(tenant),
    )
    return [Hit(dict(p.payload or {}), p.score) for p in response.points]


@_outage
async def fetch(name: str, tenant: str, ids: Sequence[str], vectors: bool = False) -> list[Hit]:
    """The points of ``ids`` (point ids) that exist and belong to ``tenant``."""
    if not ids:
        return []
    found = await client().retrieve(name, ids=list(ids), with_payload=True, with_vectors=vectors)
    return [
        Hit(dict(p.payload or {}), 1.0, _plain(p.vector) if vectors else None)
        for p in found
        if p.payload is not None and p.payload.get(TENANT) == tenant
    ]


def _plain(vector: Any) -> list[float]:
    if isinstance(vector, Mapping):  # a named-vector collection: not ours, take the default
        vector = vector.get("", next(iter(vector.values())))
    return [float(x) for x in vector]


@_outage
async def delete_ids(name: str, ids: Sequence[str], batch: int = 1024) -> None:
    db = client()
    for start in range(0, len(ids), batch):
        chunk: list[Any] = list(ids[start : start + batch])
        await db.delete(name, points_selector=models.PointIdsList(points=chunk), wait=True)


@_outage
async def delete_matching(name: str, tenant: str, any_of: Mapping[str, str]) -> None:
    """Delete ``tenant``'s points where any of the payload fields has its value."""
    should: list[models.Condition] = [
        models.FieldCondition(key=field, match=models.MatchValue(value=value))
        for field, value in any_of.items()
    ]
    selector = models.FilterSelector(filter=_tenant(tenant, models.Filter(should=should)))
    await client().delete(name, points_selector=selector, wait=True)


@_outage
async def delete_tenant(tenant: str, name: str | None = None) -> None:
    """Every point of ``tenant`` in ``name``, or in every ragapi collection (any dimension)."""
    db = client()
    names = [name] if name else [c.name for c in (await db.get_collections()).collections]
    selector = models.FilterSelector(filter=_tenant(tenant))
    for each in names:
        if each.startswith(PREFIX):
            await db.delete(each, points_selector=selector, wait=True)


@_outage
async def count(tenant: str) -> dict[str, int]:
    """How many points ``tenant`` has per ragapi collection (operations, tests)."""
    db = client()
    names = [c.name for c in (await db.get_collections()).collections if c.name.startswith(PREFIX)]
    counted = {}
    for name in names:
        counted[name] = (await db.count(name, count_filter=_tenant(tenant), exact=True)).count
    return counted

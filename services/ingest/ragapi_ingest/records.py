"""Document and task records in Redis (layout: docs/decisions/0300).

Every key of a tenant starts with ``ragapi:ingest:{<tenant>}:`` (a hash tag, so
one tenant's keys share a cluster slot and Lua scripts may touch them all):

    doc:<doc_id>          hash   the document (fields of D, plus seq, task_id, metadata...)
    doc:<doc_id>:tasks    set    tasks that hold the document (its own and duplicates')
    doc:<doc_id>:objects  set    derived objects in the object store (decoded text, OCR output)
    docs                  zset   doc_id by seq (creation order): the listing
    docs:<status>         zset   doc_id by seq, one per status: the filtered listing
    sha                   hash   sha256 -> doc_id (dedupe)
    seq                   string the tenant's document counter
    task:<task_id>        hash   the task (kind, created_at)
    task:<task_id>:docs   list   the task's doc_ids in order
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from ragapi_common.contracts.payloads import DocumentStatus
from ragapi_common.errors import ValidationFailed

from . import scripts
from .views import Document, Task, TaskCounts

TERMINAL: frozenset[str] = frozenset({"processed", "failed"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(kind: str) -> str:
    """An unguessable id (128 random bits) with a readable kind prefix."""
    return f"{kind}_{secrets.token_hex(16)}"


def _prefix(tenant_id: str) -> str:
    return f"ragapi:ingest:{{{tenant_id}}}:"


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Records:
    """Reads and writes the ingest records of every tenant."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._set_status = redis.register_script(scripts.SET_STATUS)
        self._claim_sha = redis.register_script(scripts.CLAIM_SHA)
        self._release_sha = redis.register_script(scripts.RELEASE_SHA)
        self._set_if_present = redis.register_script(scripts.SET_IF_PRESENT)
        self._join_task = redis.register_script(scripts.JOIN_TASK)
        self._remove = redis.register_script(scripts.REMOVE_DOCUMENT)

    # --- dedupe -----------------------------------------------------------------------------
    async def claim_sha(self, tenant_id: str, sha256: str, doc_id: str) -> str | None:
        """Reserve ``sha256`` for ``doc_id``; answer the existing doc_id if it is taken."""
        p = _prefix(tenant_id)
        existing = await self._claim_sha(keys=[p + "sha"], args=[sha256, doc_id])
        return _text(existing) if existing else None

    async def release_sha(self, tenant_id: str, sha256: str, doc_id: str) -> None:
        p = _prefix(tenant_id)
        await self._release_sha(keys=[p + "sha"], args=[sha256, doc_id])

    # --- documents ----------------------------------------------------------------------------
    async def create_document(self, tenant_id: str, fields: Mapping[str, str]) -> None:
        """Store a new document as ``queued`` and list it."""
        p = _prefix(tenant_id)
        doc_id = fields["doc_id"]
        seq = await self.redis.incr(p + "seq")
        now = now_iso()
        record: dict[Any, Any] = {**fields, "status": "queued", "seq": str(seq), "created_at": now}
        record["updated_at"] = now
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(p + "doc:" + doc_id, mapping=record)
            pipe.sadd(p + "doc:" + doc_id + ":tasks", fields["task_id"])
            pipe.hincrby(p + "task:" + fields["task_id"], "n:queued", 1)
            pipe.zadd(p + "docs", {doc_id: seq})
            pipe.zadd(p + "docs:queued", {doc_id: seq})
            await pipe.execute()

    async def raw_document(self, tenant_id: str, doc_id: str) -> dict[str, str] | None:
        raw = await self.redis.hgetall(_prefix(tenant_id) + "doc:" + doc_id)
        return _record(raw)

    async def document(self, tenant_id: str, doc_id: str) -> Document | None:
        raw = await self.raw_document(tenant_id, doc_id)
        return Document.from_record(raw) if raw else None

    async def documents_raw(
        self, tenant_id: str, doc_ids: list[str]
    ) -> list[dict[str, str] | None]:
        p = _prefix(tenant_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for doc_id in doc_ids:
                pipe.hgetall(p + "doc:" + doc_id)
            raws = await pipe.execute()
        return [_record(raw) for raw in raws]

    async def documents(self, tenant_id: str, doc_ids: list[str]) -> list[Document | None]:
        raws = await self.documents_raw(tenant_id, doc_ids)
        return [Document.from_record(raw) if raw else None for raw in raws]

    async def set_status(
        self,
        tenant_id: str,
        doc_id: str,
        status: DocumentStatus,
        *,
        allowed_from: tuple[str, ...] | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> str | None:
        """Move a document to ``status`` if its current one is in ``allowed_from``.

        Answers the previous status when the move happened, None when the
        document is gone or its status was not one of ``allowed_from``.
        """
        args: list[str] = [_prefix(tenant_id), doc_id, status, now_iso()]
        args.append(",".join(allowed_from) if allowed_from else "*")
        for key, value in (fields or {}).items():
            args += [key, value]
        moved, old = await self._set_status(args=args)
        return _text(old) if int(moved) else None

    async def add_task_to_document(self, tenant_id: str, doc_id: str, task_id: str) -> None:
        """The document joins the task (a duplicate upload, a delete), counted in its status."""
        await self._join_task(args=[_prefix(tenant_id), doc_id, task_id])

    async def tasks_of(self, tenant_id: str, doc_id: str) -> list[str]:
        members = await self.redis.smembers(_prefix(tenant_id) + "doc:" + doc_id + ":tasks")
        return sorted(_str(m) for m in members)

    async def mark_published(self, tenant_id: str, doc_id: str) -> None:
        """The document's ingest job is on the queue (see :mod:`.recovery`)."""
        key = _prefix(tenant_id) + "doc:" + doc_id
        await self._set_if_present(keys=[key], args=["published", "1"])

    async def unpublished(self) -> AsyncIterator[tuple[str, dict[str, str]]]:
        """(tenant_id, record) of every ``queued`` document not marked published."""
        async for key in self.redis.scan_iter(match="ragapi:ingest:{*}:docs:queued", count=500):
            name = _str(key)
            tenant_id = name[name.index("{") + 1 : name.index("}")]
            doc_ids = [_str(m) for m in await self.redis.zrange(key, 0, -1)]
            for doc in await self.documents_raw(tenant_id, doc_ids):
                if doc is not None and doc.get("status") == "queued" and not doc.get("published"):
                    yield tenant_id, doc

    async def add_artefacts(self, tenant_id: str, doc_id: str, names: list[str]) -> None:
        """Remember objects derived from the document, to delete them with it."""
        if names:
            await self.redis.sadd(_prefix(tenant_id) + "doc:" + doc_id + ":objects", *names)

    async def artefacts(self, tenant_id: str, doc_id: str) -> list[str]:
        members = await self.redis.smembers(_prefix(tenant_id) + "doc:" + doc_id + ":objects")
        return sorted(_str(m) for m in members)

    async def remove_document(self, tenant_id: str, doc_id: str) -> None:
        """Drop a document's records; its tasks count it as ``gone`` (done)."""
        raw = await self.raw_document(tenant_id, doc_id)
        if raw is not None:
            await self.release_sha(tenant_id, raw.get("sha256", ""), doc_id)
        await self._remove(args=[_prefix(tenant_id), doc_id])

    async def check_capacity(self, tenant_id: str, adding: int, max_documents: int) -> None:
        """422 when ``adding`` more documents would pass the tenant's ``max_documents``."""
        count = int(await self.redis.zcard(_prefix(tenant_id) + "docs"))
        if count + adding > max_documents:
            raise ValidationFailed(
                f"the tenant holds {count} documents; its limit is {max_documents}",
                details=[{"field": "limits.max_documents", "message": "limit reached"}],
            )

    async def page(
        self, tenant_id: str, *, status: str | None, limit: int, cursor: int | None
    ) -> tuple[list[Document], int | None]:
        """Newest first; ``cursor`` is the seq to continue below. Answers (page, next)."""
        key = _prefix(tenant_id) + ("docs:" + status if status else "docs")
        upper: int | str = f"({cursor}" if cursor is not None else "+inf"
        rows = await self.redis.zrevrangebyscore(
            key, upper, "-inf", start=0, num=limit + 1, withscores=True
        )
        more = len(rows) > limit
        rows = rows[:limit]
        found = await self.documents(tenant_id, [_str(row[0]) for row in rows])
        docs = [doc for doc in found if doc is not None]
        next_cursor = int(rows[-1][1]) if more and rows else None
        return docs, next_cursor

    # --- tasks --------------------------------------------------------------------------------
    async def create_task(
        self, tenant_id: str, task_id: str, kind: str, doc_ids: list[str]
    ) -> None:
        p = _prefix(tenant_id)
        now = now_iso()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                p + "task:" + task_id, mapping={"task_id": task_id, "kind": kind, "created_at": now}
            )
            if doc_ids:
                pipe.rpush(p + "task:" + task_id + ":docs", *doc_ids)
            await pipe.execute()

    async def task_counts(self, tenant_id: str, task_id: str) -> TaskCounts | None:
        """The task's status and counts, from its counters (no document is read)."""
        p = _prefix(tenant_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(p + "task:" + task_id)
            pipe.llen(p + "task:" + task_id + ":docs")
            raw, total = await pipe.execute()
        if not raw or b"kind" not in raw:
            return None
        counters = {_str(k)[2:]: int(v) for k, v in raw.items() if _str(k).startswith("n:")}
        return TaskCounts.of(int(total), counters)

    async def task(self, tenant_id: str, task_id: str) -> Task | None:
        """The task, its counts and its documents as they are now."""
        p = _prefix(tenant_id)
        counts = await self.task_counts(tenant_id, task_id)
        if counts is None:
            return None
        kind = _str(await self.redis.hget(p + "task:" + task_id, "kind") or b"ingest")
        ids = [
            _str(doc_id)
            for doc_id in await self.redis.lrange(p + "task:" + task_id + ":docs", 0, -1)
        ]
        docs = await self.documents(tenant_id, ids)
        present = [doc for doc in docs if doc is not None]
        return Task(task_id=task_id, kind=kind, counts=counts, documents=present)

    # --- tenants ------------------------------------------------------------------------------
    async def purge(self, tenant_id: str) -> list[str]:
        """Delete every record of a tenant; answer the doc_ids it had."""
        p = _prefix(tenant_id)
        doc_ids = [_str(m) for m in await self.redis.zrange(p + "docs", 0, -1)]
        batch: list[Any] = []
        async for key in self.redis.scan_iter(match=p + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                await self.redis.unlink(*batch)
                batch.clear()
        if batch:
            await self.redis.unlink(*batch)
        return doc_ids


def _record(raw: Mapping[Any, Any]) -> dict[str, str] | None:
    """A document hash, or None if it is absent or only a stray field of one."""
    record = {_str(k): _str(v) for k, v in raw.items()}
    return record if "doc_id" in record and "status" in record else None


def metadata_json(metadata: Mapping[str, Any] | None) -> str:
    return json.dumps(metadata or {}, ensure_ascii=False, separators=(",", ":"))

"""The answers and keywords LightRAG caches per tenant: written after the query, and bounded.

Queries write their keywords and answer (``{mode}:keywords:{hash}``,
``{mode}:query:{hash}``) to the LLM cache that indexing fills with extraction
answers. The ``local`` profile's JSON cache takes its lock for that write, the
lock each indexing commit holds while it rewrites the whole file (seconds once
a large document's extraction answers are in it): :class:`QueryCache` queues
the queries' writes instead, and the tenant's debounced flush hands them over.

That cache also keeps every distinct question for ever, in memory and in the
file: before each flush the oldest query entries beyond :data:`QUERY_ENTRIES`
are deleted; the extraction cache (``default:extract:…``, what makes a
re-index cheap) is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

QUERY_CACHE_TYPES = frozenset({"query", "keywords"})
#: Per tenant: ~2-4 MiB of answers at a few KiB each.
QUERY_ENTRIES = 2000


class QueryCache:
    """What queries use as LightRAG's ``hashing_kv``: reads answered, writes queued.

    LightRAG's query functions call only ``global_config``, ``get_by_id`` and
    ``upsert`` on it. A queued entry is answered from the queue until
    :meth:`write` hands it to the storage.
    """

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.global_config: dict[str, Any] = storage.global_config
        self._queued: dict[str, dict[str, Any]] = {}

    @property
    def queued(self) -> int:
        return len(self._queued)

    async def get_by_id(self, key: str) -> dict[str, Any] | None:
        queued = self._queued.get(key)
        if queued is not None:
            return copy.deepcopy(queued)
        found: dict[str, Any] | None = await self.storage.get_by_id(key)
        return found

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        self._queued.update(data)

    async def write(self) -> None:
        """Upsert the queued entries into the storage (in memory; its flush saves them)."""
        queued, self._queued = self._queued, {}
        if not queued:
            return
        try:
            await self.storage.upsert(queued)
        except BaseException:
            self._queued = {**queued, **self._queued}  # newer entries win
            raise


def _is_query_entry(key: str) -> bool:
    parts = key.split(":", 2)
    return len(parts) == 3 and parts[1] in QUERY_CACHE_TYPES


async def trim(storage: Any, keep: int = QUERY_ENTRIES) -> int:
    """Delete the least recently written query entries beyond ``keep``; how many went.

    Only storages holding their records in process memory (LightRAG's JSON KV
    storage, ``_data``) are trimmed; a database-backed cache is left as is.
    """
    records = getattr(storage, "_data", None)
    if not isinstance(records, Mapping):
        return 0
    entries = [
        (float(value.get("update_time") or 0), key)
        for key, value in records.items()
        if _is_query_entry(key)
    ]
    if len(entries) <= keep:
        return 0
    # Stamps are whole seconds: ties keep the dict's order, which is insertion order.
    entries.sort(key=lambda entry: entry[0])
    stale = [key for _, key in entries[: len(entries) - keep]]
    await storage.delete(stale)
    return len(stale)


def flush_with_trim(cache: QueryCache, keep: int = QUERY_ENTRIES) -> Callable[[], Awaitable[None]]:
    """The cache's flush: the queued entries in, trim, then LightRAG's ``index_done_callback``."""

    async def flush() -> None:
        await cache.write()
        await trim(cache.storage, keep)
        await cache.storage.index_done_callback()

    return flush

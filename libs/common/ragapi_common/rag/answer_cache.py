"""A bound on the answers and keywords LightRAG caches per tenant.

LightRAG's LLM cache keeps every distinct question's keywords and answer
(``{mode}:keywords:{hash}``, ``{mode}:query:{hash}``) for ever, in memory and
in the JSON file of the ``local`` profile: a server answering distinct
questions grows without end. Before each flush the oldest of those entries
beyond :data:`QUERY_ENTRIES` are deleted; the extraction cache (``default:
extract:…``, what makes a re-index cheap) is never touched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

QUERY_CACHE_TYPES = frozenset({"query", "keywords"})
#: Per tenant: ~2-4 MiB of answers at a few KiB each.
QUERY_ENTRIES = 2000


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


def flush_with_trim(storage: Any, keep: int = QUERY_ENTRIES) -> Callable[[], Awaitable[None]]:
    """The cache's flush: trim, then LightRAG's ``index_done_callback``."""

    async def flush() -> None:
        await trim(storage, keep)
        await storage.index_done_callback()

    return flush

"""Queries read LightRAG's storages without waiting for their writers.

LightRAG's file-backed storages (NanoVectorDB, NetworkX, JSON KV) take one
lock per storage for reads and writes alike and hold it through each commit:
the whole-file write (seconds for a large tenant) and, for the vectors, the
embedding of every pending record (:mod:`.embed_ahead` moves that out). A
query arriving then waited for all of it (issue 9: 504 after 120 s).

Their docstrings say what the lock is for within one process: every operation
on the in-memory data is synchronous on the event loop, so a read between two
awaits sees a whole state; the lock makes the *reload* from disk after another
process's commit atomic, and keeps writers apart. A query is neither: inside
:func:`querying` a storage's lock is passed over unless the storage must
reload first (its ``storage_updated`` flag; the lock is then taken as before),
and the graph's commit gate (writers wait while a worker thread serializes the
graph) lets the query read alongside that thread, which only reads too. The
``local`` profile runs in one process (``ragapi up``), so no other process's
commit is ever pending; the check stays for correctness. In the ``postgres``
profile only the vector store locks anything in process: its buffer of
upserts awaiting the commit, which the commit holds while it writes the rows.

Queries write to no storage but the LLM cache, and their cache writes are
queued (:class:`~.answer_cache.QueryCache`), written later by the cache's
debounced flush, which runs outside any query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from . import batch_reads
from ._lightrag import LightRAG

_QUERYING: ContextVar[bool] = ContextVar("ragapi_querying", default=False)
#: ``id()`` of the :class:`ReadersPass` locks this context entered without taking them.
_PASSED: ContextVar[frozenset[int]] = ContextVar("ragapi_passed_locks", default=frozenset())

#: Storage class -> (its lock's attribute, whether it reloads from disk under it).
#: ``JsonKVStorage``'s ``storage_updated`` means "unsaved changes", never "reload";
#: ``PGVectorStorage``'s lock guards its in-memory buffer of upserts awaiting the
#: commit (the database isolates the rest), held through the commit's writes.
LOCKS = {
    "NanoVectorDBStorage": ("_storage_lock", True),
    "NetworkXStorage": ("_storage_lock", True),
    "JsonKVStorage": ("_storage_lock", False),
    "PGVectorStorage": ("_flush_lock", False),
}


@contextlib.contextmanager
def querying() -> Iterator[None]:
    """Mark the storage reads made inside (and in tasks started inside) as a query's."""
    token = _QUERYING.set(True)
    try:
        yield
    finally:
        _QUERYING.reset(token)


class ReadersPass:
    """A storage's lock that queries pass over unless the storage must reload first."""

    def __init__(self, lock: Any, storage: Any, *, reloads: bool) -> None:
        self._lock = lock
        self._storage = storage
        self._reloads = reloads

    def _passing(self) -> bool:
        if not _QUERYING.get():
            return False
        return not (self._reloads and self._storage.storage_updated.value)

    async def __aenter__(self) -> None:
        passed = _PASSED.get()
        if self._passing():
            _PASSED.set(passed | {id(self)})
            return
        # Explicitly not passed, whatever a parent task's copied context said.
        _PASSED.set(passed - {id(self)})
        await self._lock.__aenter__()

    async def __aexit__(self, *exc_info: Any) -> Any:
        passed = _PASSED.get()
        if id(self) in passed:
            _PASSED.set(passed - {id(self)})
            return None
        return await self._lock.__aexit__(*exc_info)


class _Open:
    """NetworkX's commit gate as a query sees it: always open."""

    def is_set(self) -> bool:
        return True

    async def wait(self) -> bool:
        return True


_OPEN = _Open()


def _pass_gate(graph: Any) -> None:
    gate = graph._gate

    def gate_for_writers() -> Any:
        return _OPEN if _QUERYING.get() else gate()

    graph._gate = gate_for_writers


def install(rag: LightRAG) -> None:
    """Let queries pass the locks of the storages of ``rag`` they read.

    The local graph's batch reads also take the graph once per batch, and the chunk
    records are copied for JSON data (:mod:`.batch_reads`).
    """
    batch_reads.install(rag.chunk_entity_relation_graph)
    batch_reads.install_kv(rag.text_chunks)
    for storage in (
        rag.chunks_vdb, rag.entities_vdb, rag.relationships_vdb,
        rag.chunk_entity_relation_graph, rag.text_chunks, rag.llm_response_cache,
    ):  # fmt: skip
        if type(storage).__name__ not in LOCKS:
            continue  # the postgres profile's KV and graph lock nothing in process
        name, reloads = LOCKS[type(storage).__name__]
        setattr(storage, name, ReadersPass(getattr(storage, name), storage, reloads=reloads))
        if hasattr(storage, "_gate"):
            _pass_gate(storage)

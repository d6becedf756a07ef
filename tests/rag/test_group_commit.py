"""Group commits: one flush per batch, doc-status last, no status written after a failure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ragapi_common.rag._lightrag import IndexFlushError
from ragapi_common.rag.commits import GroupCommit
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX


class Storage:
    """A storage whose flush is recorded in ``log`` (and fails while ``broken``)."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.namespace = name
        self.log = log
        self.broken = False

    async def index_done_callback(self) -> None:
        await asyncio.sleep(0)
        if self.broken:
            raise OSError(f"{self.namespace}: disk full")
        self.log.append(self.namespace)


def stores(window_s: float = 0.05, batch: int = 8) -> tuple[GroupCommit, list[str], list[Storage]]:
    log: list[str] = []
    data = [Storage(name, log) for name in ("chunks", "graph", "vectors")]
    status = Storage("doc_status", log)
    group = GroupCommit(window_s=window_s, batch=batch)
    group.install(data, last=status)
    return group, log, [*data, status]


async def test_a_batch_of_documents_is_flushed_once_doc_status_last() -> None:
    group, log, (chunks, graph, vectors, status) = stores()
    # Ten documents: each writes every storage, flushes, then writes its status.
    for _ in range(10):
        for storage in (chunks, graph, vectors, status):
            await storage.index_done_callback()
    assert log == []  # deferred: nothing written yet
    await asyncio.gather(*(group.insert_done() for _ in range(10)))
    assert group.commits == 1
    assert sorted(log[:3]) == ["chunks", "graph", "vectors"]
    assert log[3:] == ["doc_status"]
    await group.close()


async def test_a_status_barrier_writes_doc_status_and_what_asked_only() -> None:
    group, log, (chunks, _, _, _) = stores()
    await chunks.index_done_callback()  # asked for a flush (an enqueue's full_docs)
    await group.barrier(data=False)
    assert log == ["chunks", "doc_status"]
    await group.close()


async def test_a_full_batch_commits_before_the_window_ends() -> None:
    group, log, _ = stores(window_s=30.0, batch=3)
    await asyncio.wait_for(asyncio.gather(*(group.barrier() for _ in range(3))), 5)
    assert group.commits == 1
    assert log[-1] == "doc_status"
    await group.close()


async def test_a_batch_commits_once_every_writer_in_flight_waits() -> None:
    group, _, _ = stores(window_s=30.0, batch=8)
    group.writers = lambda: 2  # two inserts in flight: both waiting is everyone
    await asyncio.wait_for(asyncio.gather(group.barrier(), group.insert_done()), 5)
    assert group.commits == 1
    await group.close()


async def test_a_failed_data_flush_fails_the_batch_and_writes_no_status() -> None:
    group, log, (chunks, graph, _, status) = stores()
    graph.broken = True
    await chunks.index_done_callback()
    await status.index_done_callback()
    results = await asyncio.gather(group.insert_done(), group.barrier(), return_exceptions=True)
    assert all(isinstance(result, IndexFlushError) for result in results)
    assert "doc_status" not in log
    # The disk back: the next commit writes everything, doc-status last.
    graph.broken = False
    await group.barrier()
    assert log[-1] == "doc_status"
    assert "graph" in log
    await group.close()


async def test_a_cancelled_waiter_does_not_cancel_the_commit() -> None:
    group, log, _ = stores(window_s=0.1)
    waiter = asyncio.create_task(group.barrier())
    other = asyncio.create_task(group.barrier())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await other
    assert waiter.cancelled()
    assert log[-1] == "doc_status"
    await group.close()


async def test_a_status_change_wakes_the_watchers_of_that_document_only() -> None:
    log: list[str] = []
    status = Storage("doc_status", log)
    rows: dict[str, dict[str, str]] = {}

    async def upsert(data: dict[str, dict[str, str]]) -> None:
        rows.update(data)
        await status.index_done_callback()

    status.upsert = upsert  # type: ignore[attr-defined]
    group = GroupCommit(window_s=30.0)
    group.attach(SimpleNamespace(doc_status=status), [])  # type: ignore[arg-type]
    mine, other = group.status_changes("doc-a"), group.status_changes("doc-b")
    await status.upsert({"doc-a": {"status": "processed"}})  # type: ignore[attr-defined]
    assert mine.done()
    assert not other.done()
    await group.close()
    assert "upsert" not in vars(status)  # the storage's own again


async def test_close_writes_what_is_pending_and_restores_the_storages() -> None:
    group, log, (chunks, _, _, status) = stores(window_s=30.0)
    await chunks.index_done_callback()
    await status.index_done_callback()
    await group.close()
    assert log == ["chunks", "doc_status"]
    await chunks.index_done_callback()  # the storage's own flush again
    assert log[-1] == "chunks"


async def test_close_without_flush_discards_the_batch() -> None:
    group, log, (chunks, _, _, _) = stores(window_s=30.0)
    await chunks.index_done_callback()
    await group.close(flush=False)
    assert log == []


# --- a real tenant (local profile) ---------------------------------------------------------
def doc_status_on_disk(settings: CommonSettings, tenant_id: str) -> dict[str, str]:
    path = Path(settings.tenants_dir) / tenant_id / "kv_store_doc_status.json"
    rows = json.loads(path.read_text()) if path.exists() else {}
    return {doc_id: row["status"] for doc_id, row in rows.items()}


async def test_documents_inserted_together_share_commits_and_are_on_disk_when_reported(
    registry: Registry, tenant_for: TenantFor, settings: CommonSettings
) -> None:
    context = tenant_for()
    tenant = await registry.get(context)
    assert tenant.commits is not None
    texts = {"doc-z": ZORBLAX, "doc-f": FALCON, "doc-o": ORCHARD}

    async def insert(doc_id: str, text: str) -> None:
        await tenant.insert_text(doc_id, f"{doc_id}.txt", text)
        # Reported processed: its status is on disk already.
        assert doc_status_on_disk(settings, context.tenant_id)[doc_id] == "processed"

    await asyncio.gather(*(insert(doc_id, text) for doc_id, text in texts.items()))
    # Per document LightRAG would flush every storage once and doc-status at each step.
    assert tenant.commits.commits < 3 * len(texts)


async def test_a_failing_storage_flush_leaves_the_document_unprocessed(
    registry: Registry, tenant_for: TenantFor, settings: CommonSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from lightrag.kg.networkx_impl import NetworkXStorage

    real = NetworkXStorage.index_done_callback
    disk_full = True

    async def flaky(self: NetworkXStorage) -> bool:
        if disk_full:
            raise OSError("disk full")
        return await real(self)

    monkeypatch.setattr(NetworkXStorage, "index_done_callback", flaky)
    context = tenant_for()
    tenant = await registry.get(context)
    with pytest.raises(Exception, match=r"failed|disk full|status"):
        await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    assert doc_status_on_disk(settings, context.tenant_id).get("doc-z") != "processed"
    # The disk back: the redelivered document is indexed and its status written.
    disk_full = False
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    assert doc_status_on_disk(settings, context.tenant_id)["doc-z"] == "processed"

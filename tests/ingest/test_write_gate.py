"""The tenant's write gate: shared inserts, exclusive deletes, one outer lock per group."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ragapi_common.rag._lightrag import shared_storage
from ragapi_common.rag.writes import GroupBounds, WriteGate

WORKSPACE = "write-gate-test"


@pytest.fixture(autouse=True)
async def _pipeline_status() -> None:
    """The workspace's ``pipeline_status`` a cancelled run is flagged in (LightRAG's own)."""
    shared_storage.initialize_share_data()
    await shared_storage.initialize_pipeline_status(workspace=WORKSPACE)


class Pipeline:
    """Stands in for a LightRAG instance: a run lasts until ``finish`` is set."""

    def __init__(self) -> None:
        self.workspace = WORKSPACE
        self.finish = asyncio.Event()
        self.runs = 0
        self.statuses: dict[str, str] = {}
        self.doc_status = self

    async def get_by_id(self, doc_id: str) -> dict[str, Any] | None:
        status = self.statuses.get(doc_id)
        return None if status is None else {"status": status}

    async def apipeline_process_enqueue_documents(self) -> None:
        self.runs += 1
        await self.finish.wait()
        for doc_id in self.statuses:
            self.statuses[doc_id] = "processed"


class Outer:
    """A cross-replica lock that records when it is taken and given back."""

    def __init__(self) -> None:
        self.events: list[str] = []

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        self.events.append("in")
        try:
            yield
        finally:
            self.events.append("out")


async def insert(gate: WriteGate, pipeline: Pipeline, outer: Outer, doc_id: str) -> None:
    async with gate.shared(outer):
        pipeline.statuses[doc_id] = "pending"
        await gate.settle(doc_id)


async def test_inserts_share_one_run_and_one_outer_lock() -> None:
    pipeline, outer = Pipeline(), Outer()
    gate = WriteGate(pipeline)  # type: ignore[arg-type]
    inserts = [asyncio.create_task(insert(gate, pipeline, outer, f"d{i}")) for i in range(4)]
    await asyncio.sleep(0.1)
    assert gate.inserting == 4
    assert pipeline.runs == 1
    assert outer.events == ["in"]
    pipeline.finish.set()
    await asyncio.gather(*inserts)
    assert set(pipeline.statuses.values()) == {"processed"}
    assert outer.events == ["in", "out"]


async def test_exclusive_waits_for_inserts_and_their_run_and_goes_before_new_inserts() -> None:
    pipeline, outer = Pipeline(), Outer()
    gate = WriteGate(pipeline)  # type: ignore[arg-type]
    order: list[str] = []
    first = asyncio.create_task(insert(gate, pipeline, outer, "d0"))
    await asyncio.sleep(0.05)

    async def exclusive() -> None:
        async with gate:
            order.append("exclusive")
            await asyncio.sleep(0.05)

    async def late_insert() -> None:
        await insert(gate, pipeline, outer, "d1")
        order.append("late insert")

    deleting = asyncio.create_task(exclusive())
    await asyncio.sleep(0.05)
    late = asyncio.create_task(late_insert())
    await asyncio.sleep(0.1)
    assert order == []  # the run of the first insert is still going
    assert gate.inserting == 1  # the late insert queues behind the exclusive waiter
    pipeline.finish.set()
    await asyncio.gather(first, deleting, late)
    assert order == ["exclusive", "late insert"]
    assert outer.events == ["in", "out", "in", "out"]


async def test_a_cancelled_last_insert_stops_the_run_then_gives_the_outer_lock_back() -> None:
    pipeline, outer = Pipeline(), Outer()
    gate = WriteGate(pipeline)  # type: ignore[arg-type]
    task = asyncio.create_task(insert(gate, pipeline, outer, "d0"))
    await asyncio.sleep(0.05)
    task.cancel()  # no insert waits for the run any more: it is asked to stop
    await asyncio.sleep(0.05)
    assert outer.events == ["in"]  # this run ignores LightRAG's flag: still writing, hold on
    task.cancel()  # a second cancellation (a shutdown's grace is over) cancels the run
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert outer.events == ["in", "out"]
    assert gate.inserting == 0
    assert [t for t in asyncio.all_tasks() if t.get_name() == "lightrag-pipeline"] == []
    async with asyncio.timeout(5), gate:
        assert pipeline.statuses == {"d0": "pending"}  # its next insert replaces it


async def test_a_bounded_group_takes_no_more_inserts_and_the_next_group_takes_the_lock_again() -> (
    None
):
    pipeline, outer = Pipeline(), Outer()
    gate = WriteGate(pipeline, bounds=GroupBounds(docs=2))  # type: ignore[arg-type]
    inserts = [asyncio.create_task(insert(gate, pipeline, outer, f"d{i}")) for i in range(3)]
    await asyncio.sleep(0.1)
    assert gate.inserting == 2  # the third waits for the next group
    assert "d2" not in pipeline.statuses
    pipeline.finish.set()
    await asyncio.gather(*inserts)
    assert outer.events == ["in", "out", "in", "out"]  # the lock went back between the groups
    assert pipeline.runs == 2


async def test_a_group_takes_new_inserts_only_for_its_time_bound() -> None:
    pipeline, outer = Pipeline(), Outer()
    gate = WriteGate(pipeline, bounds=GroupBounds(seconds=0.2))  # type: ignore[arg-type]
    first = asyncio.create_task(insert(gate, pipeline, outer, "d0"))
    early = asyncio.create_task(insert(gate, pipeline, outer, "d1"))
    await asyncio.sleep(0.05)
    assert gate.inserting == 2
    await asyncio.sleep(0.3)
    late = asyncio.create_task(insert(gate, pipeline, outer, "d2"))
    await asyncio.sleep(0.05)
    assert gate.inserting == 2  # the group is closed to it; it waits for the lock to go back
    pipeline.finish.set()
    await asyncio.gather(first, early, late)
    assert outer.events == ["in", "out", "in", "out"]

"""Tenants share the OCR pool fairly: a big upload does not hold a one-page receipt back.

Real pool processes read real scanned pages; the order in which pages finish is
what is checked, never how long they took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ragapi_common.metrics import Metrics
from ragapi_common.tenancy import Endpoint
from ragapi_ocr.content import PageOutput
from ragapi_ocr.cpu import CpuPool, Share
from ragapi_ocr.engines.base import Caller, Source
from ragapi_ocr.engines.local import LocalEngine
from ragapi_ocr.fairqueue import FairQueue
from ragapi_ocr.metrics import ocr_metrics
from ragapi_ocr.tasks import Limits, LocalOptions, inspect
from tests.ocr import documents as docs
from tests.support.slowness import slowness

OPTIONS = LocalOptions(Limits(1000, 40_000_000), 200, 50, 0.5, 0.02, 8)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60 * slowness()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def one_process() -> AsyncIterator[CpuPool]:
    pool = CpuPool(1)
    pool.start()
    await pool.warm()
    yield pool
    await pool.close()


async def test_a_late_tenant_is_served_next_not_last(one_process: CpuPool) -> None:
    """Tenant a queues six jobs; b's one job, queued while a's first runs, runs second."""
    finished: list[str] = []

    async def job(tenant: str) -> None:
        await one_process.run_for(Share(tenant), 60, time.sleep, 0.2)
        finished.append(tenant)

    big = [asyncio.create_task(job("a")) for _ in range(6)]
    await wait_until(lambda: one_process.busy == 1 and one_process.queue.waiting == 5, "a's queue")
    await job("b")
    await asyncio.gather(*big)
    assert finished.index("b") == 1, finished


async def test_weights_split_the_slots_while_both_wait() -> None:
    """Weight 2 against 1: of every three grants while both wait, two go to the heavier."""
    queue = FairQueue(1)
    order: list[str] = []
    release = asyncio.Event()

    async def job(tenant: str, weight: float) -> None:
        async with queue.turn(tenant, weight):
            order.append(tenant)
            await release.wait()

    holder = asyncio.create_task(job("first", 1))
    await wait_until(lambda: order == ["first"], "the first grant")
    waiting = [asyncio.create_task(job("heavy", 2)) for _ in range(4)]
    waiting += [asyncio.create_task(job("light", 1)) for _ in range(4)]
    await wait_until(lambda: queue.waiting == 8, "eight waiters")
    release.set()
    await asyncio.gather(holder, *waiting)
    assert order[1:7].count("heavy") == 4, order
    assert order[1:7].count("light") == 2, order


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    queue = FairQueue(1)
    async with queue.turn("a"):
        gone = asyncio.create_task(queue.turn("b").__aenter__())
        await wait_until(lambda: queue.waiting == 1, "b waiting")
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
    async with queue.turn("c"):  # the slot is free again: no waiter holds it
        assert queue.waiting == 0


class Recording(LocalEngine):
    """The local engine, noting which tenant's page finished when."""

    def __init__(self, pool: CpuPool, finished: list[str]) -> None:
        super().__init__(pool, OPTIONS, page_timeout_s=120, metrics=ocr_metrics(Metrics()))
        self.finished = finished

    async def page(self, source: Source, index: int, caller: Caller) -> PageOutput:
        page = await super().page(source, index, caller)
        self.finished.append(caller.tenant_id)
        return page


async def test_big_upload_does_not_hold_back_a_receipt(
    one_process: CpuPool, tmp_path: Path
) -> None:
    """a's 6-page scan is being read when b's one-page receipt arrives: b's page is next."""
    big, receipt = tmp_path / "big.pdf", tmp_path / "receipt.pdf"
    big.write_bytes(docs.scanned_pdf_pages([docs.ENGLISH] * 6))
    receipt.write_bytes(docs.scanned_pdf()[0])
    finished: list[str] = []
    engine = Recording(one_process, finished)

    async def read(tenant: str, path: Path) -> None:
        info = await one_process.run(60, inspect, str(path), OPTIONS.limits)
        await engine.extract(Source(path, info), Caller(tenant, Endpoint("", "", "")))

    upload = asyncio.create_task(read("a", big))
    await wait_until(lambda: one_process.queue.waiting == 5, "a's pages queued")
    await read("b", receipt)
    await upload
    assert finished.index("b") <= 1, finished
    assert finished.count("a") == 6

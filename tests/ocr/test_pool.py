"""The process pool: a job past its timeout is stopped (its process killed), the pool goes on."""

from __future__ import annotations

import operator
import os
import time
from collections.abc import AsyncIterator

import pytest

from ragapi_common.errors import DeadlineExceeded
from ragapi_ocr.cpu import CpuPool, Share


@pytest.fixture
async def pool() -> AsyncIterator[CpuPool]:
    cpu = CpuPool(1)
    cpu.start()
    yield cpu
    await cpu.close()


async def test_runs_in_another_process(pool: CpuPool) -> None:
    assert await pool.run(60, operator.add, 2, 3) == 5
    assert await pool.run(60, os.getpid) != os.getpid()


async def test_overrun_kills_the_job_and_the_pool_recovers(pool: CpuPool) -> None:
    first_pid = await pool.run(60, os.getpid)
    with pytest.raises(DeadlineExceeded, match=r"longer than 0\.5s"):
        await pool.run(0.5, time.sleep, 30)
    assert pool.busy == 0
    # A fresh process serves the next job (the stuck one was killed, not left running).
    assert await pool.run(60, os.getpid) != first_pid


async def test_a_page_overrun_kills_only_the_page_processes(pool: CpuPool) -> None:
    page_pid = await pool.run_for(Share("t"), 60, os.getpid)
    short_pid = await pool.run(60, os.getpid)
    with pytest.raises(DeadlineExceeded):
        await pool.run_for(Share("t"), 0.5, time.sleep, 30)
    assert await pool.run_for(Share("t"), 60, os.getpid) != page_pid
    assert await pool.run(60, os.getpid) == short_pid  # the spare process lives on


async def test_thread_mode_runs_the_same_functions() -> None:
    cpu = CpuPool(0)
    cpu.start()
    try:
        assert await cpu.run(60, os.getpid) == os.getpid()
        with pytest.raises(DeadlineExceeded):
            await cpu.run(0.05, time.sleep, 0.5)
    finally:
        await cpu.close()

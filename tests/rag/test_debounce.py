"""The LLM cache's flush: one write for a burst of queries, nothing lost at close."""

from __future__ import annotations

import asyncio

from ragapi_common.rag.debounce import DebouncedFlush


class Storage:
    def __init__(self) -> None:
        self.writes = 0

    async def flush(self) -> None:
        self.writes += 1


async def test_a_burst_of_changes_is_written_once_after_the_interval() -> None:
    storage = Storage()
    flush = DebouncedFlush(storage.flush, interval_s=0.05)
    for _ in range(100):
        flush.changed()
    assert storage.writes == 0
    await asyncio.sleep(0.2)
    assert storage.writes == 1
    flush.changed()
    await asyncio.sleep(0.2)
    assert storage.writes == 2
    await flush.close()
    assert storage.writes == 2, "nothing was pending"


async def test_close_writes_what_is_pending_and_drop_discards_it() -> None:
    storage = Storage()
    flush = DebouncedFlush(storage.flush, interval_s=60)
    flush.changed()
    await flush.close()
    assert storage.writes == 1
    flush.changed()
    await flush.close(flush=False)
    await asyncio.sleep(0)
    assert storage.writes == 1


async def test_a_failed_write_is_retried() -> None:
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")

    flush = DebouncedFlush(flaky, interval_s=0.02)
    flush.changed()
    await asyncio.sleep(0.2)
    assert len(calls) == 2
    await flush.close()

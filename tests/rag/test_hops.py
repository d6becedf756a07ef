"""Small budget steps run on the loop; large ones, and LightRAG's other work, on its thread."""

from __future__ import annotations

import threading
from typing import Any

from ragapi_common.rag import hops


def _where(records: list[Any], tag: str) -> tuple[int, str, int]:
    return threading.get_ident(), tag, len(records)


def _other(records: list[Any], tag: str) -> tuple[int, str, int]:
    return _where(records, tag)


def test_small_counts_the_text_of_records() -> None:
    assert hops.small([{"description": "x" * 100, "weight": 1.0}] * 10, limit=2000)
    assert not hops.small([{"description": "x" * 100}] * 20, limit=2000)
    assert not hops.small(["x" * 2000], limit=2000)
    assert hops.small([], limit=1)


async def test_small_records_stay_on_the_loop_large_ones_go_to_the_thread() -> None:
    loop_thread = threading.get_ident()
    small = [{"content": "Zorblax"}] * 3
    large = [{"content": "x" * 1024}] * (hops.INLINE_CHARS // 1024 + 1)
    assert await hops.run(_where, small, "a") == (loop_thread, "a", 3)
    thread, tag, count = await hops.run(_where, large, "b")
    assert (tag, count) == ("b", len(large))
    assert thread != loop_thread


async def test_only_the_named_steps_are_kept_on_the_loop() -> None:
    loop_thread = threading.get_ident()
    run_in_executor = hops.inline_for(_where)
    small = [{"content": "Zorblax"}]
    assert (await run_in_executor(_where, small, "named"))[0] == loop_thread
    assert (await run_in_executor(_other, small, "other"))[0] != loop_thread

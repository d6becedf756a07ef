"""When a query's token work leaves the event loop for LightRAG's tokenizer thread.

LightRAG sends each budget step of a query to its tokenizer thread. With the
memoised tokenizer (:mod:`.tokenizer`) a step over a query's records is mostly
memo hits, well under a millisecond, while the hop costs a submit, a thread
wake-up and a wake-up of the loop, and the GIL passes back and forth: in the
profile of a mix query the hops and the loop's waits for the GIL behind them
came to ~10 % of its CPU (decision 0505). Steps over less than
:data:`INLINE_CHARS` of text run on the loop (at most a few milliseconds of
tiktoken when nothing is memoised); larger ones still go to the thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ._lightrag import run_in_tokenizer_executor

#: Text a step may tokenize on the loop: ~5 ms of tiktoken when none of it is memoised.
INLINE_CHARS = 65536


def _chars(record: Any) -> int:
    if isinstance(record, dict):
        return sum(len(value) if isinstance(value, str) else 16 for value in record.values())
    return len(record) if isinstance(record, str) else 16


def small(records: Iterable[Any], limit: int = INLINE_CHARS) -> bool:
    """Whether ``records`` hold less than ``limit`` characters (counted until passed)."""
    total = 0
    for record in records:
        total += _chars(record)
        if total >= limit:
            return False
    return True


async def run(step: Callable[..., Any], records: list[Any], *args: Any) -> Any:
    """``step(records, *args)`` on the loop when the records are small, else on the thread."""
    if small(records):
        return step(records, *args)
    return await run_in_tokenizer_executor(step, records, *args)


def inline_for(*steps: Callable[..., Any]) -> Callable[..., Any]:
    """LightRAG's ``run_in_tokenizer_executor``, running ``steps`` on small records inline."""

    async def run_in_executor(fn: Callable[..., Any], *args: Any) -> Any:
        if fn in steps and args and isinstance(args[0], list):
            return await run(fn, *args)
        return await run_in_tokenizer_executor(fn, *args)

    return run_in_executor

"""py-spy's collapsed stacks, summarised: top frames by own samples, the share under writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Leaf frames of threads that only wait (py-spy counts a thread-pool worker's queue wait).
IDLE = ("_worker (concurrent/futures/thread.py:81)",)
#: Frames of the storages' file writes (LightRAG's JSON and GraphML flushes).
WRITES = ("write_json (", "atomic_write (", "write_nx_graph (")


def samples(collapsed: Path) -> Iterator[tuple[list[str], int]]:
    """``(frames, count)`` of a py-spy collapsed-stack file, idle waits left out."""
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if count.isdigit() and frames[-1] not in IDLE:
            yield frames, int(count)


def top_frames(collapsed: Path, count: int = 12) -> dict[str, Any]:
    """The frames with the most own (leaf) samples, and the share under a file write."""
    own: dict[str, int] = {}
    total = writes = 0
    for frames, n in samples(collapsed):
        own[frames[-1]] = own.get(frames[-1], 0) + n
        total += n
        if any(frame.startswith(WRITES) for frame in frames):
            writes += n
    ranked = sorted(own.items(), key=lambda item: -item[1])[:count]
    return {
        "samples": total,
        "storage_writes_share": round(writes / max(total, 1), 3),
        "top_own": [f"{n / max(total, 1):6.1%} {frame}" for frame, n in ranked],
    }

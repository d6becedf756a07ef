"""The embedder an index was built with, recorded beside it.

Vectors of two embedders are not comparable, and a different dimension breaks
the vector store outright: an index opened with another embedder is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiofiles
import aiofiles.os

from ragapi_common.errors import Conflict

MARKER_NAME = "ragapi-index.json"


async def ensure_embedder(tenant_dir: Path, embedder_id: str, dim: int) -> None:
    """Record the embedder on first use; raise :class:`Conflict` on a different one."""
    path = tenant_dir / MARKER_NAME
    wanted = {"embedder": embedder_id, "dim": dim}
    if await aiofiles.os.path.exists(path):
        async with aiofiles.open(path, encoding="utf-8") as file:
            recorded = json.loads(await file.read())
        if recorded != wanted:
            raise Conflict(
                f"this knowledge base was indexed with embedder {recorded.get('embedder')!r}"
                f" ({recorded.get('dim')}-d); it cannot be opened with {embedder_id!r}"
                f" ({dim}-d): delete its documents or restore the embedding config",
                details={"indexed_with": recorded, "configured": wanted},
            )
        return
    await aiofiles.os.makedirs(tenant_dir, exist_ok=True)
    async with aiofiles.open(path, "w", encoding="utf-8") as file:
        await file.write(json.dumps(wanted))

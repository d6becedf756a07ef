"""Uploads are refused while the data directory's filesystem is nearly full.

Under ``ragapi up`` NATS's store, Redis's append-only file and LightRAG's files share the
data directory. On a full disk Redis refuses every write (``MISCONF``) and JetStream's
file store fails mid-write, so admission stops while less than a reserve would be left:
507 ``insufficient_storage`` before anything is written, and uploads work again as soon
as space is freed.
"""

from __future__ import annotations

from pathlib import Path

import aiofiles.os

from ragapi_common.errors import InsufficientStorage
from ragapi_common.outages import FULL_RETRY_AFTER_S


class DiskSpace:
    def __init__(self, path: Path, *, reserve_bytes: int) -> None:
        self.path = path
        self.reserve_bytes = reserve_bytes

    async def free_bytes(self) -> int:
        """Free bytes (for unprivileged writers) on the filesystem of the data directory,
        or of its nearest existing parent before it is created."""
        for path in (self.path, *self.path.parents):
            try:
                stats = await aiofiles.os.statvfs(path)
            except FileNotFoundError:
                continue
            return stats.f_bavail * stats.f_frsize
        raise FileNotFoundError(self.path)

    async def check(self, incoming: int) -> None:
        """Raise InsufficientStorage unless ``incoming`` bytes leave the reserve free."""
        if self.reserve_bytes <= 0:
            return
        free = await self.free_bytes()
        if free - incoming < self.reserve_bytes:
            raise InsufficientStorage(
                f"not enough disk space on the server: {free >> 20} MiB free, "
                f"{self.reserve_bytes >> 20} MiB kept in reserve; nothing was stored, "
                "retry once space is freed",
                retry_after=FULL_RETRY_AFTER_S,
            )

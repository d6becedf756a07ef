"""Files staged on local disk for the pool processes, written and removed with aiofiles.

The pool opens documents by path, so a 100 MB PDF is never copied whole
through memory or pickled across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterable
from pathlib import Path

import aiofiles
import aiofiles.os
from starlette.datastructures import UploadFile

from ragapi_common.bus import FileStore
from ragapi_common.errors import PayloadTooLarge

_CHUNK = 1024 * 1024


class Staging:
    """A directory of short-lived files, one per document being read.

    Each app gets its own directory under ``root`` and removes it at shutdown,
    so files left by a crash never pile up beside a running one's.
    """

    def __init__(self, root: Path) -> None:
        self.directory = root / uuid.uuid4().hex

    async def prepare(self) -> None:
        await aiofiles.os.makedirs(self.directory, exist_ok=True)

    async def close(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.directory, ignore_errors=True)

    def _new_path(self) -> Path:
        return self.directory / f"{uuid.uuid4().hex}.bin"

    async def from_chunks(self, chunks: AsyncIterable[bytes], max_bytes: int | None = None) -> Path:
        """Write ``chunks`` to a new file; PayloadTooLarge past ``max_bytes``."""
        path = self._new_path()
        size = 0
        try:
            async with aiofiles.open(path, "wb") as file:
                async for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise PayloadTooLarge(f"the file is larger than {max_bytes} bytes")
                    await file.write(chunk)
        except BaseException:
            await self.discard(path)
            raise
        return path

    async def from_store(self, files: FileStore, name: str) -> Path:
        """A stored object copied down in chunks (NotFound if it is not there)."""
        return await self.from_chunks(files.read(name))

    async def from_upload(self, upload: UploadFile, max_bytes: int) -> Path:
        async def chunks() -> AsyncIterable[bytes]:
            while chunk := await upload.read(_CHUNK):
                yield chunk

        return await self.from_chunks(chunks(), max_bytes)

    async def discard(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(path)

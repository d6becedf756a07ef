"""A ``multipart/form-data`` body streamed from files with aiofiles (no file sits in memory).

httpx's own multipart encoder reads files with blocking calls; this one reads
in chunks off the event loop's thread and knows its length up front, so the
server can refuse a too-large upload from the ``Content-Length`` alone.
"""

from __future__ import annotations

import mimetypes
import secrets
import stat
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class FilePart:
    path: Path
    size: int

    def header(self, boundary: str, field: str) -> bytes:
        name = self.path.name
        # The name in UTF-8 as a quoted-string (backslash escapes); line breaks cannot
        # travel in a header, so they become spaces.
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        quoted = quoted.replace("\r", " ").replace("\n", " ")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()


class MultipartUpload:
    """The body of one upload of ``parts`` under the form field ``field``."""

    def __init__(self, parts: Sequence[FilePart], field: str = "files") -> None:
        self.parts = list(parts)
        self.field = field
        self.boundary = "ragapi-" + secrets.token_hex(16)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _closing(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def content_length(self) -> int:
        framing = sum(len(part.header(self.boundary, self.field)) + 2 for part in self.parts)
        return framing + sum(part.size for part in self.parts) + len(self._closing())

    async def stream(self, on_bytes: Callable[[int], None]) -> AsyncIterator[bytes]:
        """The body in chunks; ``on_bytes`` hears how many file bytes went out."""
        for part in self.parts:
            yield part.header(self.boundary, self.field)
            async with aiofiles.open(part.path, "rb") as handle:
                while chunk := await handle.read(CHUNK_BYTES):
                    yield chunk
                    on_bytes(len(chunk))
            yield b"\r\n"
        yield self._closing()


async def collect_files(paths: Sequence[Path]) -> list[FilePart]:
    """Files named and files inside folders named (recursively, hidden ones skipped), sorted."""
    found: dict[Path, FilePart] = {}
    pending = list(paths)
    while pending:
        path = pending.pop()
        info = await aiofiles.os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            names = await aiofiles.os.listdir(path)
            pending.extend(path / name for name in names if not name.startswith("."))
        elif stat.S_ISREG(info.st_mode):
            found[path.absolute()] = FilePart(path, info.st_size)
    return sorted(found.values(), key=lambda part: str(part.path))

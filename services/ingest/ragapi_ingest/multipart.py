"""A streaming multipart/form-data reader: parts go to temp files as they arrive.

python-multipart's :class:`MultipartParser` is synchronous and calls back with
slices of each chunk; the callbacks only queue events, which are then written
out with aiofiles before the next chunk is read. Memory stays at one chunk per
step whatever the body's size, and reading stops at the first byte past a limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiofiles
from aiofiles.threadpool.binary import AsyncBufferedIOBase
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ragapi_common.errors import BadRequest, PayloadTooLarge, ValidationFailed

from .sniff import HEAD_BYTES

#: The parts an upload may have: files under ``files``, at most one ``metadata``.
FILES, METADATA = "files", "metadata"


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    file_bytes: int
    field_bytes: int
    files: int


@dataclass
class ReceivedFile:
    """One file part, on disk: its client name, size, sha256 and first bytes."""

    filename: str
    path: Path
    size: int = 0
    sha256: str = ""
    head: bytes = b""


@dataclass
class ReceivedForm:
    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, bytes] = field(default_factory=dict)


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type; 400 otherwise."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("the body must be multipart/form-data with a boundary")
    return boundary


class _Part:
    """The part being received: headers first, then data to a file or a buffer."""

    def __init__(self) -> None:
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, str] = {}
        self.name = ""
        self.file: ReceivedFile | None = None
        self.out: AsyncBufferedIOBase | None = None
        self.digest = hashlib.sha256()
        self.buffer = bytearray()


class MultipartReader:
    """Reads one body into a :class:`ReceivedForm`, files under ``directory``."""

    def __init__(self, boundary: bytes, directory: Path, limits: Limits) -> None:
        self.directory = directory
        self.limits = limits
        self.form = ReceivedForm()
        self._events: list[tuple[str, bytes]] = []
        self._part: _Part | None = None
        self._ended = False
        self._body = 0
        try:
            self._parser = MultipartParser(boundary, callbacks=self._callbacks())
        except (MultipartParseError, ValueError) as exc:
            raise BadRequest(f"malformed multipart boundary: {exc}") from exc

    def _callbacks(self) -> Any:
        def event(name: str) -> Any:
            return lambda: self._events.append((name, b""))

        def data(name: str) -> Any:
            return lambda buf, start, end: self._events.append((name, bytes(buf[start:end])))

        return {
            "on_part_begin": event("part_begin"),
            "on_header_field": data("header_field"),
            "on_header_value": data("header_value"),
            "on_header_end": event("header_end"),
            "on_headers_finished": event("headers_finished"),
            "on_part_data": data("part_data"),
            "on_part_end": event("part_end"),
            "on_end": event("end"),
        }

    async def read(self, stream: AsyncIterator[bytes]) -> ReceivedForm:
        """Consume ``stream``; 413 past a limit, 400 if the body is not valid multipart, 422
        at the first part that is neither ``files`` nor the one ``metadata``."""
        try:
            await self._consume(stream)
        finally:
            await self._close_file()
        if not self._ended:
            raise BadRequest("the multipart body ended before its closing boundary")
        return self.form

    async def _consume(self, stream: AsyncIterator[bytes]) -> None:
        async for chunk in stream:
            self._body += len(chunk)
            if self._body > self.limits.body_bytes:
                raise PayloadTooLarge(
                    f"the body passed the limit of {self.limits.body_bytes} bytes"
                )
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise BadRequest(f"malformed multipart body: {exc}") from exc
            await self._drain()
            if self._ended:
                return

    async def _drain(self) -> None:
        events, self._events = self._events, []
        for name, data in events:
            await self._handle(name, data)

    async def _handle(self, name: str, data: bytes) -> None:
        if name == "part_begin":
            self._part = _Part()
            return
        part = self._part
        if name == "end":
            self._ended = True
        elif part is None:
            raise BadRequest("malformed multipart body")
        elif name == "header_field":
            part.header_field += data
        elif name == "header_value":
            part.header_value += data
        elif name == "header_end":
            key = part.header_field.decode("latin-1").strip().lower()
            part.headers[key] = part.header_value.decode("latin-1")
            part.header_field.clear()
            part.header_value.clear()
        elif name == "headers_finished":
            await self._open(part)
        elif name == "part_data":
            await self._write(part, data)
        elif name == "part_end":
            await self._finish(part)

    async def _open(self, part: _Part) -> None:
        _, options = parse_options_header(part.headers.get("content-disposition", ""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if part.name == METADATA and METADATA not in self.form.fields:
            return  # kept as a field, even when the client sent it as a file
        if part.name != FILES:
            raise _unexpected(part.name)
        filename = options.get(b"filename")
        if len(self.form.files) >= self.limits.files:
            raise PayloadTooLarge(f"more than {self.limits.files} files in one request")
        path = self.directory / f"part-{len(self.form.files)}"
        part.file = ReceivedFile(filename=(filename or b"").decode("utf-8", "replace"), path=path)
        part.out = await aiofiles.open(path, "wb")

    async def _write(self, part: _Part, data: bytes) -> None:
        received = part.file
        if received is None:
            if len(part.buffer) + len(data) > self.limits.field_bytes:
                raise PayloadTooLarge(f"form field {part.name!r} is too large")
            part.buffer += data
            return
        received.size += len(data)
        if received.size > self.limits.file_bytes:
            name = received.filename or "a file"
            raise PayloadTooLarge(f"{name} passed the limit of {self.limits.file_bytes} bytes")
        if len(received.head) < HEAD_BYTES:
            received.head += data[: HEAD_BYTES - len(received.head)]
        part.digest.update(data)
        assert part.out is not None  # noqa: S101 - opened with the file
        await part.out.write(data)

    async def _finish(self, part: _Part) -> None:
        if part.file is None:
            self.form.fields[part.name] = bytes(part.buffer)
        else:
            part.file.sha256 = part.digest.hexdigest()
            await self._close_file()
            self.form.files.append(part.file)
        self._part = None

    async def _close_file(self) -> None:
        part = self._part
        if part is not None and part.out is not None:
            await part.out.close()
            part.out = None


def _unexpected(name: str) -> ValidationFailed:
    what = "a second 'metadata' part" if name == METADATA else f"a part named {name!r}"
    return ValidationFailed(
        f"{what} is not accepted: an upload has 'files' parts and at most one 'metadata' part",
        details=[{"field": name, "message": "unexpected part"}],
    )

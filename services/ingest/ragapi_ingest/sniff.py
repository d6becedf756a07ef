"""What a file really is, told from its bytes (never from its name).

:func:`sniff` reads the head of a stored upload: magic numbers for the binary
formats an engine can read, a look inside ZIP containers for office files, and
a decode test for text. Anything else is :class:`UnsupportedMediaType`.
"""

from __future__ import annotations

import asyncio
import zipfile
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from ragapi_common.errors import UnsupportedMediaType

#: Bytes of a file's head that the sniffers look at.
HEAD_BYTES = 8192

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_OFFICE = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_TEXT_BY_SUFFIX = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
    ".xml": "application/xml",
    ".htm": "text/html",
    ".html": "text/html",
}
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
#: Bytes never found in text (NUL and most C0 controls), UTF-16/32 aside.
_BINARY_BYTES = frozenset([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    #: True when the ingest worker decodes it itself; False when it goes to OCR.
    text: bool


def _magic(head: bytes) -> str | None:
    for prefix, content_type in _MAGIC:
        if head.startswith(prefix):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:2] == b"BM" and len(head) >= 18 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return "image/bmp"
    return None


def _office_type(path: Path) -> str | None:
    """The OOXML kind of a ZIP, from its central directory; None if not office."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, content_type in _OFFICE.items():
        if any(name.startswith(prefix) for name in names):
            return content_type
    return None


def looks_like_text(head: bytes) -> bool:
    """True when the bytes decode as text in some charset without binary controls."""
    if head.startswith(_BOMS):
        return True
    if any(byte in _BINARY_BYTES for byte in head):
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the head's end is still UTF-8.
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return True
    return from_bytes(head).best() is not None


def _text_type(head: bytes, filename: str) -> str:
    lowered = head[:1024].lstrip().lower()
    if any(marker in lowered for marker in _HTML_MARKERS):
        return "text/html"
    suffix = Path(filename).suffix.lower()
    return _TEXT_BY_SUFFIX.get(suffix, "text/plain")


def _sniff_sync(path: Path, head: bytes, filename: str) -> Sniffed:
    content_type = _magic(head)
    if content_type is not None:
        return Sniffed(content_type, text=False)
    if head.startswith(b"PK\x03\x04"):
        office = _office_type(path)
        if office is None:
            raise UnsupportedMediaType("a ZIP archive that is not a docx, pptx or xlsx file")
        return Sniffed(office, text=False)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedMediaType("legacy Office files (doc, xls, ppt) are not supported")
    if looks_like_text(head):
        return Sniffed(_text_type(head, filename), text=True)
    raise UnsupportedMediaType("the file's content is of no type ragapi can read")


async def sniff(path: Path, head: bytes, filename: str) -> Sniffed:
    """The real type of the file at ``path`` (``head``: its first bytes); 415 if unreadable.

    ``filename`` only picks among text flavours (md, csv, json) once the bytes
    are known to be text; it never makes bytes acceptable.
    """
    return await asyncio.to_thread(_sniff_sync, path, head, filename)

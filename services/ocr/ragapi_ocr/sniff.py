"""The real kind of a file, from its first bytes (names and declared types are not trusted)."""

from __future__ import annotations

from typing import Literal

Kind = Literal["pdf", "image", "office", "empty", "unknown"]

#: Bytes a caller should read before calling :func:`sniff`.
HEAD_BYTES = 16

_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"BM",  # BMP
    b"GIF87a",
    b"GIF89a",
)


def sniff(head: bytes) -> Kind:
    """``pdf``, ``image``, ``office`` (a zip: docx/pptx/xlsx are told apart later) or not."""
    if not head:
        return "empty"
    if head.lstrip(b"\x00\t\r\n\x0c ")[:5] == b"%PDF-":
        return "pdf"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head.startswith(b"PK\x03\x04"):
        return "office"
    return "unknown"

"""Pure parts: type sniffing, decoding, filenames, task counts."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from ragapi_common.errors import UnsupportedMediaType
from ragapi_ingest.decode import decode_document, detect_charset, html_to_text
from ragapi_ingest.sniff import HEAD_BYTES, sniff
from ragapi_ingest.views import TaskCounts
from ragapi_ingest.workers.ingest import _decoded


def _office(kind: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{kind}/document.xml", "<doc/>")
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.4\n...", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (b"II*\x00" + b"\x00" * 20, "image/tiff"),
        (b"MM\x00*" + b"\x00" * 20, "image/tiff"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"BM" + b"\x00" * 12 + b"\x28" + b"\x00" * 20, "image/bmp"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (
            _office("word"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            _office("ppt"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (_office("xl"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (b"plain words\n", "text/plain"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "text/html"),
        ("déjà vu".encode("latin-1") * 10, "text/plain"),
        ("utf-16 text".encode("utf-16"), "text/plain"),
        ("中文文本，简体。".encode("gb18030") * 10, "text/plain"),  # noqa: RUF001
    ],
)
async def test_sniff_known_types(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "file"
    path.write_bytes(data)
    assert (await sniff(path, data[:HEAD_BYTES], "whatever.bin")).content_type == expected


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
        os.urandom(4096),
        _zip(),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
    ],
)
async def test_sniff_refuses_what_nothing_reads(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(data)
    with pytest.raises(UnsupportedMediaType):
        await sniff(path, data[:HEAD_BYTES], "file.txt")


async def test_text_flavour_comes_from_the_name_once_bytes_are_text(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a,b\n1,2\n")
    assert (await sniff(path, b"a,b\n1,2\n", "t.csv")).content_type == "text/csv"
    assert (await sniff(path, b"a,b\n1,2\n", "t.md")).content_type == "text/markdown"


def test_charsets_are_detected() -> None:
    assert detect_charset(b"plain") == "utf-8"
    assert detect_charset("bom".encode("utf-8-sig")) == "utf-8-sig"
    assert detect_charset("wide".encode("utf-16")) == "utf-16"
    text = (
        "Le café de la gare ouvre à sept heures. Les élèves y prennent un chocolat chaud avant "
        "l'école, et le patron, un homme âgé très aimable, leur raconte des histoires de son "
        "enfance à Besançon. Pendant l'été, la terrasse déborde de touristes."
    )
    assert decode_document(text.encode("cp1252"), "text/plain") == text
    chinese = "这是一个关于检索增强生成的中文文档，内容丰富。" * 20  # noqa: RUF001
    assert decode_document(chinese.encode("gb18030"), "text/plain") == chinese


@pytest.mark.parametrize(
    ("data", "content_type", "as_is"),
    [
        (b"plain ascii", "text/plain", True),
        ("café, 中文".encode(), "text/markdown", True),
        ("bom".encode("utf-8-sig"), "text/plain", False),
        ("wide".encode("utf-16"), "text/plain", False),
        ("café".encode("latin-1"), "text/plain", False),
        (b"nul\x00byte", "text/plain", False),
        (b"<p>html</p>", "text/html", False),
    ],
)
def test_an_upload_that_is_already_its_utf8_text_is_not_copied(
    data: bytes, content_type: str, *, as_is: bool
) -> None:
    """The ingest worker indexes such an upload from its own object instead of a copy."""
    text, encoded = _decoded(data, content_type)
    assert text == decode_document(data, content_type)
    assert (encoded is None) == as_is
    assert (data if encoded is None else encoded) == text.encode()


def test_html_keeps_visible_text_only() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<h1>Head</h1><p>One &amp; two</p><script>alert(1)</script><ul><li>a</li><li>b</li></ul>"
        "</body></html>"
    )
    assert html_to_text(html) == "T\nHead\nOne & two\na\nb"


@pytest.mark.parametrize(
    ("total", "by_status", "expected"),
    [
        (3, {"queued": 3}, ("queued", 0, 0)),
        (3, {"queued": 2, "indexing": 1}, ("running", 0, 0)),
        (3, {"processed": 1, "queued": 2}, ("running", 1, 0)),
        (3, {"processed": 3, "queued": 0}, ("succeeded", 3, 0)),
        (2, {"failed": 2}, ("failed", 0, 2)),
        (2, {"processed": 1, "failed": 1}, ("partial", 1, 1)),
        (1, {"deleting": 1}, ("running", 0, 0)),
        (1, {"gone": 1}, ("succeeded", 1, 0)),  # deleted since: done
        (0, {}, ("succeeded", 0, 0)),
    ],
)
def test_task_counts(total: int, by_status: dict[str, int], expected: tuple[str, int, int]) -> None:
    counts = TaskCounts.of(total, by_status)
    assert (counts.status, counts.done, counts.failed) == expected

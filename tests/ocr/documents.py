"""Test documents made at test time with PyMuPDF, Pillow and NumPy (no files, no network).

Each generator answers the bytes and, where there is text, the ground truth
the OCR output is compared with.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pymupdf
from PIL import Image, ImageFilter

ENGLISH = [
    "Invoice 4711 from ACME Corporation",
    "Total amount due: 1234.56 EUR",
    "Payment within 30 days, reference QX-88.",
]
CHINESE = ["光学字符识别测试文档", "北京市朝阳区建国路八十八号", "合同编号：二零二六年第七号"]  # noqa: RUF001 - NFKC folds the fullwidth colon
TABLE = [["Region", "Q1", "Q2"], ["North", "120", "135"], ["South", "98", "101"]]
# A small page keeps OCR fast (A6-ish, in points).
WIDTH, HEIGHT = 420, 300


def _page(doc: pymupdf.Document) -> pymupdf.Page:
    return doc.new_page(width=WIDTH, height=HEIGHT)


def _write_lines(page: pymupdf.Page, lines: list[str], font: str, size: float = 13) -> None:
    for number, line in enumerate(lines):
        page.insert_text((28, 48 + number * 30), line, fontname=font, fontsize=size)


def _bytes(doc: pymupdf.Document, **options: object) -> bytes:
    data = doc.tobytes(**options)
    doc.close()
    return bytes(data)


def text_pdf(pages: int = 2) -> tuple[bytes, list[str]]:
    """Pages with a real text layer (helv), each long enough to count as text."""
    doc = pymupdf.open()
    truth = []
    for number in range(pages):
        lines = [f"Page {number + 1}: " + ENGLISH[0], *ENGLISH[1:]]
        _write_lines(_page(doc), lines, "helv")
        truth += lines
    return _bytes(doc), truth


def table_pdf() -> bytes:
    """One page: a sentence above a ruled 3x3 table."""
    doc = pymupdf.open()
    page = _page(doc)
    page.insert_text(
        (28, 36), "Quarterly results by region are shown below.", fontname="helv", fontsize=11
    )
    page.insert_text(
        (28, 52), "All numbers are in thousands of units sold.", fontname="helv", fontsize=11
    )
    x0, y0, cell_w, cell_h = 28, 70, 100, 22
    for r, row in enumerate(TABLE):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(
                x0 + c * cell_w, y0 + r * cell_h, x0 + (c + 1) * cell_w, y0 + (r + 1) * cell_h
            )
            page.draw_rect(rect, color=(0, 0, 0), width=0.8)
            page.insert_text((rect.x0 + 5, rect.y1 - 7), cell, fontname="helv", fontsize=10)
    return _bytes(doc)


def rendered_text(lines: list[str], font: str, dpi: int = 200) -> Image.Image:
    """``lines`` typeset on a page and rendered to a clean RGB image."""
    doc = pymupdf.open()
    _write_lines(_page(doc), lines, font)
    pix = doc[0].get_pixmap(dpi=dpi, alpha=False)
    image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    doc.close()
    return image


def image_only_text_pdf() -> tuple[bytes, list[str]]:
    """A page whose only text is inside an embedded picture (no text layer at all)."""
    picture = rendered_text(ENGLISH, "helv")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    doc = pymupdf.open()
    page = _page(doc)
    page.insert_image(page.rect, stream=buffer.getvalue())
    return _bytes(doc), ENGLISH


def degrade(image: Image.Image, seed: int = 7) -> bytes:
    """A scan: rotated 1.5 degrees, blurred, noisy, JPEG-compressed."""
    rotated = image.rotate(1.5, resample=Image.Resampling.BICUBIC, expand=False, fillcolor="white")
    blurred = rotated.filter(ImageFilter.GaussianBlur(radius=0.8))
    pixels = np.asarray(blurred, dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0, 12, pixels.shape)
    noisy = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=55)
    return buffer.getvalue()


def scanned_pdf(lines: list[str] = ENGLISH, font: str = "helv") -> tuple[bytes, list[str]]:
    """An image-only PDF, as a scanner makes them."""
    doc = pymupdf.open()
    page = _page(doc)
    page.insert_image(page.rect, stream=degrade(rendered_text(lines, font)))
    return _bytes(doc), lines


def scanned_pdf_pages(pages: list[list[str]]) -> bytes:
    """An image-only PDF of several scanned pages."""
    doc = pymupdf.open()
    for number, lines in enumerate(pages):
        page = _page(doc)
        page.insert_image(page.rect, stream=degrade(rendered_text(lines, "helv"), seed=number))
    return _bytes(doc)


def chinese_text_pdf() -> tuple[bytes, list[str]]:
    """A Chinese page with a text layer (china-s) next to an English one (helv)."""
    doc = pymupdf.open()
    _write_lines(_page(doc), CHINESE, "china-s")
    _write_lines(_page(doc), ENGLISH, "helv")
    return _bytes(doc), CHINESE + ENGLISH


def scanned_png(lines: list[str], font: str) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(degrade(rendered_text(lines, font)))).save(buffer, format="PNG")
    return buffer.getvalue()


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def encrypted_pdf() -> bytes:
    doc = pymupdf.open()
    _write_lines(_page(doc), ENGLISH, "helv")
    return _bytes(doc, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="secret")


def huge_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid 1-bit PNG of width x height: all white, a few hundred KB compressed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


FIGURE_TEXT = ["Figure 7: 42 widgets shipped"]


def figure_pdf() -> tuple[bytes, list[str]]:
    """A text page (a real text layer) holding a picture whose words exist only as pixels."""
    picture = rendered_text(FIGURE_TEXT, "helv").crop((0, 0, 1167, 220))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    doc = pymupdf.open()
    page = _page(doc)
    _write_lines(page, ENGLISH, "helv")
    page.insert_image(pymupdf.Rect(28, 150, 392, 219), stream=buffer.getvalue())
    return _bytes(doc), ENGLISH + FIGURE_TEXT


def scanned_tiff(pages: list[list[str]]) -> bytes:
    """A multi-page TIFF scan, one frame per entry of ``pages``."""
    frames = [Image.open(io.BytesIO(degrade(rendered_text(lines, "helv")))) for lines in pages]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def scanned_webp(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(degrade(rendered_text(lines, "helv")))).save(buffer, format="WEBP")
    return buffer.getvalue()

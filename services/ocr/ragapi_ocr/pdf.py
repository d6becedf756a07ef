"""The PyMuPDF adapter: open with checks, read a page's text layer, tables and images, render.

Only this module imports pymupdf. Nothing here picks an OCR backend: text comes
from the text layer, pixels go to :mod:`.rapid` by the caller's choice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf as _pymupdf

from .content import Box, rescale
from .images import Pixels
from .rejections import Rejected

# PyMuPDF's annotations are partial (untyped calls everywhere): it is used as Any here.
pymupdf: Any = _pymupdf
Document = Any
Page = Any
Rect = Any

pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)


@dataclass(frozen=True)
class TextLayer:
    """How much a page says by itself: characters of its text layer, image cover share."""

    chars: int
    image_share: float


@contextmanager
def open_pdf(path: Path, max_pages: int) -> Iterator[Document]:
    """An open, unencrypted PDF of 1..max_pages pages; Rejected otherwise."""
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise Rejected("corrupt", f"the PDF is damaged and cannot be read: {exc}") from exc
    try:
        _check(doc, max_pages)
        yield doc
    finally:
        doc.close()


def _check(doc: Document, max_pages: int) -> None:
    if doc.needs_pass or doc.is_encrypted:
        raise Rejected("encrypted", "the PDF is encrypted (password protected)")
    if doc.page_count < 1:
        raise Rejected("corrupt", "the PDF is damaged: it has no readable pages")
    if doc.page_count > max_pages:
        raise Rejected(
            "too_many_pages", f"the PDF has {doc.page_count} pages; the limit is {max_pages}"
        )


def page_count(path: Path, max_pages: int) -> int:
    with open_pdf(path, max_pages) as doc:
        return int(doc.page_count)


def text_layer(page: Page) -> TextLayer:
    text = page.get_text("text")
    chars = sum(1 for ch in text if not ch.isspace())
    area = abs(page.rect) or 1.0
    covered = sum(abs(pymupdf.Rect(info["bbox"]) & page.rect) for info in page.get_image_info())
    return TextLayer(chars=chars, image_share=min(1.0, covered / area))


def normalized(page: Page, rect: Rect) -> Box:
    """``rect`` on the content list's scale (0-1000 of the page's width and height)."""
    width, height = page.rect.width or 1.0, page.rect.height or 1.0
    x0, y0 = rect.x0 - page.rect.x0, rect.y0 - page.rect.y0
    return rescale((x0, y0, x0 + rect.width, y0 + rect.height), width, height)


def tables(page: Page) -> list[tuple[Rect, list[list[str | None]]]]:
    """Each table PyMuPDF finds: its rectangle and its rows of cells."""
    # use_layout=False: PyMuPDF 2.0 would otherwise run its layout model (~1 s a page)
    # first; ruled tables are found from the drawn lines alone.
    if not page.get_cdrawings():
        return []  # no drawn lines, no ruled table: skip the finder's own setup cost
    found = page.find_tables(use_layout=False)
    return [(pymupdf.Rect(table.bbox), table.extract()) for table in found.tables]


def text_blocks(page: Page, skip: list[Rect]) -> list[tuple[Rect, str]]:
    """Text blocks in reading order, minus those lying mostly inside ``skip`` rectangles."""
    blocks = []
    for x0, y0, x1, y1, text, _, kind in page.get_text("blocks", sort=True):
        rect = pymupdf.Rect(x0, y0, x1, y1)
        if kind != 0 or not text.strip() or _mostly_inside(rect, skip):
            continue
        blocks.append((rect, " ".join(line.strip() for line in text.splitlines() if line.strip())))
    return blocks


def _mostly_inside(rect: Rect, others: list[Rect]) -> bool:
    area = abs(rect) or 1.0
    return any(abs(rect & other) / area > 0.5 for other in others)


def image_rects(page: Page, min_share: float, limit: int) -> list[Rect]:
    """Where the page shows embedded images big enough to matter, largest first."""
    area = abs(page.rect) or 1.0
    rects = [pymupdf.Rect(info["bbox"]) & page.rect for info in page.get_image_info()]
    rects = [r for r in rects if not r.is_empty and abs(r) / area >= min_share]
    rects.sort(key=lambda r: -abs(r))
    return rects[:limit]


def render(page: Page, dpi: int, max_pixels: int, clip: Rect | None = None) -> Pixels:
    """The page (or ``clip`` of it) as RGB pixels; the dpi drops to keep within max_pixels."""
    region = clip or page.rect
    zoom = dpi / 72
    pixels_at_dpi = region.width * zoom * region.height * zoom
    if pixels_at_dpi > max_pixels:
        zoom *= (max_pixels / pixels_at_dpi) ** 0.5
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=region, alpha=False)
    return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n).copy()

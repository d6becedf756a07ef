"""The CPU work, as plain functions a pool process (or a thread) runs.

Every function takes and returns picklable values (paths as strings, bytes,
dataclasses) so :class:`.cpu.CpuPool` can run it in another process; failures
the caller must report come back as :class:`.rejections.Rejected`.

:mod:`.pdf` (PyMuPDF, 116 MB of RSS at import) is imported inside the functions
that read PDFs: the service's event-loop process imports this module to name the
functions it sends to the pool, and must not pay for what only the pool runs
(docs/decisions/0502-memory.md; tests/ocr/test_import_footprint.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import images, layout, office, rapid
from .content import (
    DEEPSEEK_GRID,
    WHOLE_PAGE,
    Box,
    Item,
    PageOutput,
    image_item,
    markdown_table,
    rescale,
    table_item,
    text_item,
)
from .rejections import Rejected
from .sniff import HEAD_BYTES, Kind, sniff

if TYPE_CHECKING:
    from .pdf import Page


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_pixels: int


@dataclass(frozen=True)
class LocalOptions:
    """How the local engine reads a page (see :class:`.settings.OcrSettings`)."""

    limits: Limits
    dpi: int
    text_min_chars: int
    text_max_image_share: float
    min_image_share: float
    max_images: int


@dataclass(frozen=True)
class DocumentInfo:
    """What a file is and how many pages it has (office files count as one)."""

    kind: Kind
    pages: int


def inspect(path: str, limits: Limits) -> DocumentInfo:
    """Sniff and open the file once: Rejected if it is empty, unknown, damaged or too big."""
    with open(path, "rb") as file:  # a pool process, not the event loop
        kind = sniff(file.read(HEAD_BYTES))
    if kind == "empty":
        raise Rejected("empty", "the file is empty")
    if kind == "unknown":
        raise Rejected("unsupported", "not a PDF, image or office file (sniffed from its bytes)")
    if kind == "pdf":
        from . import pdf

        return DocumentInfo(kind, pdf.page_count(Path(path), limits.max_pages))
    if kind == "office":
        office.detect(Path(path))
        return DocumentInfo(kind, 1)
    with images.open_image(Path(path), limits.max_pixels) as image:
        pages = images.frame_count(image)
    if pages > limits.max_pages:
        raise Rejected(
            "too_many_pages", f"the image has {pages} pages; the limit is {limits.max_pages}"
        )
    return DocumentInfo(kind, pages)


def local_page(path: str, kind: Kind, index: int, options: LocalOptions) -> PageOutput:
    """One page read by the local engine (text layer, tables and images; OCR where needed)."""
    if kind == "image":
        return PageOutput(
            index, _ocr_items(_image_pixels(path, index, options.limits), index), read_by_ocr=True
        )
    from . import pdf

    with pdf.open_pdf(Path(path), options.limits.max_pages) as doc:
        page = doc[index]
        layer = pdf.text_layer(page)
        if (
            layer.chars > options.text_min_chars
            and layer.image_share < options.text_max_image_share
        ):
            return _text_page(page, index, options)
        pixels = pdf.render(page, options.dpi, options.limits.max_pixels)
        return PageOutput(index, _ocr_items(pixels, index), read_by_ocr=True)


def _ocr_items(pixels: images.Pixels, index: int, frame: Box = WHOLE_PAGE) -> list[Item]:
    """Paragraphs read from ``pixels``, which show ``frame`` of the page."""
    height, width = pixels.shape[:2]
    return [
        text_item(text, index, bbox=rescale(box, width, height, frame))
        for text, box in layout.paragraphs(rapid.read_lines(pixels))
    ]


def _image_pixels(path: str, index: int, limits: Limits) -> images.Pixels:
    with images.open_image(Path(path), limits.max_pixels) as image:
        return images.frame_rgb(image, index)


def _text_page(page: Page, index: int, options: LocalOptions) -> PageOutput:
    """Text blocks in reading order, tables and embedded images slotted in by position."""
    from . import pdf

    found = pdf.tables(page)
    placed: list[tuple[float, Item]] = [
        (rect.y0, text_item(text, index, bbox=pdf.normalized(page, rect)))
        for rect, text in pdf.text_blocks(page, [r for r, _ in found])
    ]
    inserts: list[tuple[float, Item]] = []
    for rect, rows in found:
        body = markdown_table(rows)
        if body:
            inserts.append((rect.y0, table_item(body, index, bbox=pdf.normalized(page, rect))))
    pngs: list[bytes] = []
    for rect in pdf.image_rects(page, options.min_image_share, options.max_images):
        pixels = pdf.render(page, options.dpi, options.limits.max_pixels, clip=rect)
        frame = pdf.normalized(page, rect)
        inserts.append((rect.y0, image_item(len(pngs), index, bbox=frame)))
        pngs.append(images.png(pixels))
        inserts += [(rect.y0, item) for item in _ocr_items(pixels, index, frame)]
    return PageOutput(index, _merge(placed, inserts), images=pngs)


def _merge(blocks: list[tuple[float, Item]], inserts: list[tuple[float, Item]]) -> list[Item]:
    """Keep the blocks' reading order; put each insert before the first block below it."""
    out: list[Item] = []
    pending = sorted(inserts, key=lambda pair: pair[0])
    for top, item in blocks:
        while pending and pending[0][0] <= top:
            out.append(pending.pop(0)[1])
        out.append(item)
    out += [item for _, item in pending]
    return out


def render_page(
    path: str, kind: Kind, index: int, dpi: int, limits: Limits, max_side: int
) -> bytes:
    """One page as PNG, at most ``max_side`` px on its long side (for DeepSeek-OCR)."""
    if kind == "image":
        return images.png(images.fit(_image_pixels(path, index, limits), max_side))
    from . import pdf

    with pdf.open_pdf(Path(path), limits.max_pages) as doc:
        return images.png(images.fit(pdf.render(doc[index], dpi, limits.max_pixels), max_side))


def crop_regions(page_png: bytes, boxes: list[tuple[float, float, float, float]]) -> list[bytes]:
    """PNG crops of a page image; boxes are in 0-999 of the page, as DeepSeek-OCR gives them."""
    pixels = images.decode_png(page_png)
    return [images.png(images.crop_normalized(pixels, box, scale=DEEPSEEK_GRID)) for box in boxes]


def office_document(path: str) -> list[PageOutput]:
    """A docx, pptx or xlsx as pages of items (slides and sheets are pages)."""
    return office.read(Path(path))


def ready() -> bool:
    """A no-op job: answering it proves a pool process is up."""
    return True


def warm_up(threads: int, det_max_side: int, runtime: str) -> None:
    """Pool initializer: set the thread budget and build this process's engine."""
    rapid.configure(threads, det_max_side, runtime)
    rapid.engine()

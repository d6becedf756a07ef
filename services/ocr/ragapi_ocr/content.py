"""Content-list items in RAG-Anything's format, and the markdown they read as.

Items (``page_idx`` counts from 0; ``bbox`` is ``[x0, y0, x1, y1]`` in integers on
one scale for every engine, :data:`BBOX_SCALE`: 0 is the page's left (top) edge,
1000 its right (bottom) edge; DeepSeek-OCR's 0-999 grid is rescaled to it):

- ``{"type": "text", "text", "page_idx", "text_level"?}``
- ``{"type": "table", "table_body", "table_caption": [], "table_footnote": [], "page_idx"}``
- ``{"type": "image", "img_path", "image_caption": [], "image_footnote": [], "page_idx"}``
- ``{"type": "equation", "latex", "text_format": "latex", "page_idx"}``

While pages are being read an image item carries ``image_ref`` (its index in
:attr:`PageOutput.images`) instead of ``img_path``; :meth:`Extraction.finish`
swaps one for the other once the images have a stored name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragapi_common.contracts.payloads import OcrResult

Item = dict[str, Any]
Box = tuple[float, float, float, float]
#: Where a page's right and bottom edges lie in every item's ``bbox``.
BBOX_SCALE = 1000.0
#: DeepSeek-OCR's grid: 999 is the page's right (bottom) edge.
DEEPSEEK_GRID = 999.0
WHOLE_PAGE: Box = (0.0, 0.0, BBOX_SCALE, BBOX_SCALE)


def rescale(box: Box, width: float, height: float, frame: Box = WHOLE_PAGE) -> Box:
    """``box`` given in 0..``width`` x 0..``height`` of ``frame`` (a region of the page,
    itself on the page's scale), on the page's scale and clipped to it."""
    fx0, fy0, fx1, fy1 = frame
    sx, sy = (fx1 - fx0) / (width or 1.0), (fy1 - fy0) / (height or 1.0)
    x0, y0, x1, y1 = box
    return (
        _clip(fx0 + x0 * sx),
        _clip(fy0 + y0 * sy),
        _clip(fx0 + x1 * sx),
        _clip(fy0 + y1 * sy),
    )


def _clip(value: float) -> float:
    return max(0.0, min(BBOX_SCALE, value))


def text_item(text: str, page_idx: int, *, level: int = 0, bbox: Box | None = None) -> Item:
    item: Item = {"type": "text", "text": text, "page_idx": page_idx}
    if level:
        item["text_level"] = level
    return _with_bbox(item, bbox)


def table_item(
    body: str, page_idx: int, *, caption: Sequence[str] = (), bbox: Box | None = None
) -> Item:
    item: Item = {
        "type": "table",
        "table_body": body,
        "table_caption": list(caption),
        "table_footnote": [],
        "page_idx": page_idx,
    }
    return _with_bbox(item, bbox)


def image_item(
    image_ref: int, page_idx: int, *, caption: Sequence[str] = (), bbox: Box | None = None
) -> Item:
    item: Item = {
        "type": "image",
        "image_ref": image_ref,
        "image_caption": list(caption),
        "image_footnote": [],
        "page_idx": page_idx,
    }
    return _with_bbox(item, bbox)


def equation_item(latex: str, page_idx: int, *, bbox: Box | None = None) -> Item:
    item: Item = {"type": "equation", "latex": latex, "text_format": "latex", "page_idx": page_idx}
    return _with_bbox(item, bbox)


def _with_bbox(item: Item, bbox: Box | None) -> Item:
    if bbox is not None:
        item["bbox"] = [round(v) for v in bbox]
    return item


def markdown_table(rows: Sequence[Sequence[object | None]]) -> str:
    """A GitHub markdown table; the first row is the header, ragged rows are padded."""
    cleaned = [
        [_cell(value) for value in row] for row in rows if any(v not in (None, "") for v in row)
    ]
    if not cleaned:
        return ""
    width = max(len(row) for row in cleaned)
    padded = [row + [""] * (width - len(row)) for row in cleaned]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(row) + " |" for row in padded[1:]]
    return "\n".join(lines)


def _cell(value: object | None) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def item_markdown(item: Item) -> str:
    """How one item reads in the document's markdown."""
    kind = item["type"]
    if kind == "text":
        level = int(item.get("text_level", 0))
        return ("#" * level + " " if level else "") + str(item["text"])
    if kind == "table":
        caption = "\n".join(item.get("table_caption", []))
        return f"{caption}\n\n{item['table_body']}" if caption else str(item["table_body"])
    if kind == "equation":
        return f"$$\n{item['latex']}\n$$"
    caption = " ".join(item.get("image_caption", []))
    return f"![{caption}]({item['img_path']})" if item.get("img_path") else ""


@dataclass
class PageOutput:
    """What one page gave: its items and the PNG bytes their ``image_ref`` points at."""

    page_idx: int
    items: list[Item]
    images: list[bytes] = field(default_factory=list)
    read_by_ocr: bool = False
    #: What was degraded on this page (read by the fallback engine), for the document.
    warning: str | None = None


@dataclass
class Extraction:
    """A whole document's pages, before its images are stored."""

    engine: str
    pages: list[PageOutput]

    def image_blobs(self) -> list[tuple[int, int, bytes]]:
        """``(page_idx, index, png)`` of every image an item refers to."""
        return [(p.page_idx, k, png) for p in self.pages for k, png in enumerate(p.images)]

    def finish(self, image_path: Callable[[int, int], str] | None = None) -> OcrResult:
        """The result; image items get ``img_path`` from ``image_path(page_idx, index)``."""
        content: list[Item] = []
        for page in self.pages:
            for item in page.items:
                item = dict(item)
                ref = item.pop("image_ref", None)
                if ref is not None and image_path is not None:
                    item["img_path"] = image_path(page.page_idx, int(ref))
                content.append(item)
        parts = [md for md in (item_markdown(i) for i in content) if md.strip()]
        return OcrResult(
            engine=self.engine,
            pages=len(self.pages),
            markdown="\n\n".join(parts),
            content=content,
            warnings=[page.warning for page in self.pages if page.warning],
        )

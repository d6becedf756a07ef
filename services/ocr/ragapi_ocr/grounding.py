"""DeepSeek-OCR's grounding markup, parsed into content items and stripped from the text.

With ``<|grounding|>`` in the prompt the model prefixes each block with
``<|ref|>LABEL<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>`` (coordinates in
0-999 of the page; items get them on the content list's scale,
:data:`.content.BBOX_SCALE`, image crops use the model's own grid). Labels
seen: ``title``, ``sub_title``, ``text``, ``table`` (an HTML table),
``table_caption``, ``table_footnote``, ``image``, ``image_caption``,
``equation``; anything else reads as text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .content import (
    DEEPSEEK_GRID,
    Box,
    Item,
    equation_item,
    image_item,
    rescale,
    table_item,
    text_item,
)

_MARK = re.compile(r"<\|ref\|>(?P<label>.*?)<\|/ref\|>\s*<\|det\|>(?P<boxes>.*?)<\|/det\|>", re.S)
#: Special tokens left in by ``skip_special_tokens: false`` (DeepSeek writes fullwidth bars).
_BAR = "\uff5c"  # the fullwidth vertical bar of DeepSeek's special tokens
_SPECIAL = re.compile(rf"<{_BAR}[^{_BAR}<>]{{1,40}}{_BAR}>|<\|(?:grounding|/?ref|/?det)\|>")
_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")
_HEADING = re.compile(r"^#{1,6}\s*")
_LEVELS = {"title": 1, "sub_title": 2}


@dataclass(frozen=True)
class Block:
    label: str
    boxes: list[Box]
    body: str


@dataclass
class ParsedPage:
    """A page's items; image items point (``image_ref``) into :attr:`image_boxes` (0-999)."""

    items: list[Item] = field(default_factory=list)
    image_boxes: list[Box] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """The labelled blocks of one answer, markup removed from their bodies."""
    found: list[Block] = []
    marks = list(_MARK.finditer(text))
    head = _clean(text[: marks[0].start()] if marks else text)
    if head:
        found.append(Block("text", [], head))
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following is not None else len(text)
        label = mark.group("label").strip().lower() or "text"
        found.append(Block(label, _boxes(mark.group("boxes")), _clean(text[mark.end() : end])))
    return found


def strip(text: str) -> str:
    """The answer as plain markdown: grounding marks and special tokens removed."""
    return "\n\n".join(block.body for block in blocks(text) if block.body)


def _clean(body: str) -> str:
    return _SPECIAL.sub("", _MARK.sub("", body)).strip()


def _boxes(raw: str) -> list[Box]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    numbers = [float(n) for n in _NUMBERS.findall(raw)] if value is None else _flatten(value)
    return [
        (numbers[i], numbers[i + 1], numbers[i + 2], numbers[i + 3])
        for i in range(0, len(numbers) - 3, 4)
    ]


def _flatten(value: object) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list):
        return [n for part in value for n in _flatten(part)]
    return []


def parse_page(text: str, page_idx: int) -> ParsedPage:
    """Content items of one page answer, captions attached to their table or image."""
    page = ParsedPage()
    for block in blocks(text):
        grid = block.boxes[0] if block.boxes else None
        box = rescale(grid, DEEPSEEK_GRID, DEEPSEEK_GRID) if grid else None
        if block.label == "image":
            page.items.append(image_item(len(page.image_boxes), page_idx, bbox=box))
            page.image_boxes.append(grid or (0.0, 0.0, DEEPSEEK_GRID, DEEPSEEK_GRID))
        elif block.label in ("image_caption", "table_caption", "table_footnote"):
            _attach(page, block, page_idx)
        elif block.label == "table":
            page.items.append(table_item(block.body, page_idx, bbox=box))
        elif block.label in ("equation", "formula", "interline_equation"):
            page.items.append(equation_item(_latex(block.body), page_idx, bbox=box))
        elif block.body:
            level = _LEVELS.get(block.label, 0)
            body = _HEADING.sub("", block.body) if level else block.body
            page.items.append(text_item(body, page_idx, level=level, bbox=box))
    return page


def _attach(page: ParsedPage, block: Block, page_idx: int) -> None:
    """A caption joins the last image/table of the page; with none it stays as text."""
    kind = "image" if block.label.startswith("image") else "table"
    key = {"image_caption": "image_caption", "table_caption": "table_caption"}.get(
        block.label, "table_footnote"
    )
    for item in reversed(page.items):
        if item["type"] == kind and block.body:
            item[key].append(block.body)
            return
    if block.body:
        page.items.append(text_item(block.body, page_idx))


def _latex(body: str) -> str:
    text = body.strip()
    for opening, closing in (("\\[", "\\]"), ("$$", "$$"), ("\\(", "\\)")):
        if text.startswith(opening) and text.endswith(closing) and len(text) >= 4:
            return text[len(opening) : -len(closing)].strip()
    return text

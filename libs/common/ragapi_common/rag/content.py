"""RAG-Anything content lists as the markdown LightRAG's native parser reads.

A content list (``{"type": "text"|"table"|"equation"|"image", "page_idx", ...}``)
becomes one markdown document: text as paragraphs (``text_level`` as headings),
tables as their caption and an HTML ``<table>`` (markdown pipe tables are
converted; DeepSeek-OCR already gives HTML), equations as ``$$``
blocks, images as ``![caption](images/...)`` references to the bundled bytes.
LightRAG parses that into table, equation and drawing items and analyses
them (docs/decisions/0200-lightrag-native-multimodal.md).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

IMAGES_DIR = "images"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_DISPLAY_MATH = re.compile(r"^\s*(?:\$\$|\\\[)(.*?)(?:\$\$|\\\])\s*$", re.DOTALL)


@dataclass
class Markdown:
    """One document's markdown and the image files it references (by bundle path)."""

    text: str
    images: dict[str, bytes] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(part).strip() for part in value if str(part).strip())
    return str(value or "").strip()


def _heading(item: dict[str, Any], text: str) -> str:
    level = item.get("text_level")
    if isinstance(level, int) and 1 <= level <= 6 and "\n" not in text:
        return f"{'#' * level} {text}"
    return text


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _pipe_table_as_html(body: str) -> str:
    """A markdown pipe table as an HTML table; anything else unchanged.

    LightRAG 1.5.7 keeps a pipe table's header row out of the chunk text and
    the analysis prompt (it becomes sidecar metadata); an HTML table keeps its
    ``<thead>``, so column names stay searchable.
    """
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.lstrip().startswith("|") for line in lines):
        return body
    if not _DELIMITER_ROW.match(lines[1]):
        return body

    def row(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    head = row(_cells(lines[0]), "th")
    rows = "".join(row(_cells(line), "td") for line in lines[2:])
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _table(item: dict[str, Any]) -> str:
    caption = _text(item.get("table_caption"))
    body = _pipe_table_as_html(_text(item.get("table_body")))
    notes = _text(item.get("table_footnote"))
    return "\n\n".join(part for part in (caption, body, notes) if part)


def _equation(item: dict[str, Any]) -> str:
    latex = _text(item.get("latex") or item.get("text"))
    match = _DISPLAY_MATH.match(latex)
    if match:
        latex = match.group(1).strip()
    if not latex:
        return ""
    caption = _text(item.get("caption"))
    return "\n\n".join(part for part in (caption, f"$$\n{latex}\n$$") if part)


def _alt(caption: str) -> str:
    """Caption as image alt text: one line, no brackets to close the reference early."""
    return " ".join(caption.replace("[", "(").replace("]", ")").split())


def _image(item: dict[str, Any], assets: dict[str, bytes], images: dict[str, bytes]) -> str:
    caption = _text(item.get("image_caption"))
    notes = _text(item.get("image_footnote"))
    path = str(item.get("img_path") or "")
    data = assets.get(path)
    suffix = next((s for s in _IMAGE_SUFFIXES if path.lower().endswith(s)), "")
    if not data or not suffix:
        return "\n\n".join(part for part in (caption, notes) if part)
    bundled = f"{IMAGES_DIR}/img-{len(images):04d}{suffix}"
    images[bundled] = data
    reference = f"![{_alt(caption)}]({bundled})"
    return "\n\n".join(part for part in (reference, caption, notes) if part)


def to_markdown(items: Sequence[dict[str, Any]], assets: dict[str, bytes]) -> Markdown:
    """The content list as one markdown document; ``assets``: image bytes by ``img_path``."""
    images: dict[str, bytes] = {}
    blocks: list[str] = []
    for item in items:
        kind = item.get("type")
        if kind == "table":
            block = _table(item)
        elif kind == "equation":
            block = _equation(item)
        elif kind == "image":
            block = _image(item, assets, images)
        else:
            block = _heading(item, _text(item.get("text")))
        if block:
            blocks.append(block)
    return Markdown("\n\n".join(blocks), images)

"""pptx through python-pptx: one page per slide, titles as headings, text frames, tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pptx

from ..content import Item, PageOutput, markdown_table, table_item, text_item


def read_pptx(path: Path) -> list[PageOutput]:
    deck = pptx.Presentation(str(path))
    return [
        PageOutput(index, _slide_items(slide, index)) for index, slide in enumerate(deck.slides)
    ]


def _slide_items(slide: Any, index: int) -> list[Item]:
    items: list[Item] = []
    title = slide.shapes.title
    for shape in slide.shapes:
        if getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            body = markdown_table(rows)
            if body:
                items.append(table_item(body, index))
        elif getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
            level = 1 if title is not None and shape.shape_id == title.shape_id else 0
            items.append(text_item(shape.text_frame.text.strip(), index, level=level))
    return items

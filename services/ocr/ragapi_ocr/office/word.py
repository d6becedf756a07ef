"""docx through python-docx: paragraphs (headings keep their level) and tables, in order."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from ..content import Item, PageOutput, markdown_table, table_item, text_item


def read_docx(path: Path) -> list[PageOutput]:
    document: Document = docx.Document(str(path))
    items: list[Item] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            body = markdown_table([[cell.text for cell in row.cells] for row in block.rows])
            if body:
                items.append(table_item(body, 0))
        elif isinstance(block, Paragraph) and block.text.strip():
            items.append(text_item(block.text.strip(), 0, level=_heading_level(block)))
    return [PageOutput(0, items)]


def _heading_level(paragraph: Paragraph) -> int:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name == "Title":
        return 1
    if name.startswith("Heading "):
        level = name.removeprefix("Heading ").strip()
        return int(level) if level.isdigit() else 0
    return 0

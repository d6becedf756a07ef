"""xlsx through openpyxl (read-only, cached values): one page per sheet, as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl

from ..content import PageOutput, markdown_table, table_item, text_item

#: Rows kept per sheet; a sheet longer than this is cut and says so.
MAX_ROWS = 5000


def read_xlsx(path: Path) -> list[PageOutput]:
    # A file object, not a name: openpyxl refuses names without an Excel extension.
    with path.open("rb") as file:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
        try:
            return [_sheet(sheet, index) for index, sheet in enumerate(book.worksheets)]
        finally:
            book.close()


def _sheet(sheet: Any, index: int) -> PageOutput:
    rows = []
    for number, row in enumerate(sheet.iter_rows(values_only=True)):
        if number >= MAX_ROWS:
            break
        rows.append(list(row))
    items = [text_item(str(sheet.title), index, level=2)]
    body = markdown_table(rows)
    if body:
        caption = [f"first {MAX_ROWS} rows"] if len(rows) >= MAX_ROWS else []
        items.append(table_item(body, index, caption=caption))
    return PageOutput(index, items)

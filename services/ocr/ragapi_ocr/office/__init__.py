"""Office files (docx, pptx, xlsx) read with python-docx, python-pptx and openpyxl.

They are zips of XML: :func:`detect` tells them apart by their parts (and
guards against zip bombs) before one of the three readers, each the only
importer of its library, turns the file into pages of content items. Embedded
pictures are not extracted (see ``docs/decisions/0400-ocr-engines.md``);
legacy binary formats (doc, ppt, xls) are not zips and answer 415.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

from ..content import PageOutput
from ..rejections import Rejected

OfficeKind = Literal["docx", "pptx", "xlsx"]
#: Uncompressed size a zip may unpack to (zip-bomb guard).
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_MAIN_PARTS: dict[str, OfficeKind] = {
    "word/document.xml": "docx",
    "ppt/presentation.xml": "pptx",
    "xl/workbook.xml": "xlsx",
}


def detect(path: Path) -> OfficeKind:
    """Which office format the zip holds; Rejected if none, damaged or a zip bomb."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Rejected("corrupt", f"the office file is damaged: {exc}") from exc
    if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
        raise Rejected("too_large", "the office file unpacks to more than 512 MiB")
    names = {info.filename for info in infos}
    for part, kind in _MAIN_PARTS.items():
        if part in names:
            return kind
    raise Rejected("unsupported", "a zip that is not a docx, pptx or xlsx file")


def read(path: Path) -> list[PageOutput]:
    """The file's pages of items: a docx is one page, slides and sheets one page each."""
    kind = detect(path)
    try:
        if kind == "docx":
            from .word import read_docx

            return read_docx(path)
        if kind == "pptx":
            from .slides import read_pptx

            return read_pptx(path)
        from .sheets import read_xlsx

        return read_xlsx(path)
    except Rejected:
        raise
    except Exception as exc:  # the three libraries raise many types on damaged XML
        raise Rejected("corrupt", f"the {kind} file cannot be read: {exc}") from exc

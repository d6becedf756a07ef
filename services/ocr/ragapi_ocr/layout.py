"""Text lines found by OCR, put back in reading order and joined into paragraphs."""

from __future__ import annotations

import unicodedata

from .rapid import Line


def rows(lines: list[Line]) -> list[list[Line]]:
    """Lines that share a baseline band, top to bottom, each row left to right."""
    grouped: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.cy):
        row = grouped[-1] if grouped else None
        if row is not None and _same_row(row, line):
            row.append(line)
        else:
            grouped.append([line])
    return [sorted(row, key=lambda ln: ln.x0) for row in grouped]


def _same_row(row: list[Line], line: Line) -> bool:
    top = max(ln.y0 for ln in row)
    bottom = min(ln.y1 for ln in row)
    overlap = min(bottom, line.y1) - max(top, line.y0)
    return overlap > 0.5 * min(line.height, bottom - top)


def paragraphs(lines: list[Line]) -> list[str]:
    """Rows joined into paragraphs; a gap over half a line high starts a new one.

    Detected boxes are padded (about 1.3x the glyphs), so lines set solid touch
    or overlap and a blank half line already reads as a paragraph break.
    """
    result: list[list[str]] = []
    previous_bottom: float | None = None
    for row in rows(lines):
        text = join_words([ln.text for ln in row])
        top = min(ln.y0 for ln in row)
        height = max(ln.height for ln in row)
        if previous_bottom is None or top - previous_bottom > 0.5 * height:
            result.append([text])
        else:
            result[-1].append(text)
        previous_bottom = max(ln.y1 for ln in row)
    return [join_words(parts) for parts in result]


def join_words(parts: list[str]) -> str:
    """Join with spaces, except between two CJK characters (which never take one)."""
    out = ""
    for part in parts:
        if out and not (_is_cjk(out[-1]) and _is_cjk(part[0])):
            out += " "
        out += part
    return out


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")

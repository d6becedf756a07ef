"""Text lines found by OCR, put back in reading order and joined into paragraphs.

Reading order is a recursive XY cut on the (deskewed) line boxes: a blank band
at least one line high across the whole region splits it top from bottom; else
a blank gutter at least one line wide splits it into columns, read left before
right, provided every column holds lines of text (a quarter of the region wide
at the median) and not the cells of a table, which are read row by row.
"""

from __future__ import annotations

import statistics
import unicodedata
from collections.abc import Callable

from .rapid import Line

#: A paragraph's text and its box in the image's pixels (x0, y0, x1, y1).
Paragraph = tuple[str, tuple[float, float, float, float]]


def blocks(lines: list[Line]) -> list[list[Line]]:
    """The lines as regions in reading order (columns left to right, bands top to bottom)."""
    if len(lines) < 2:
        return [lines] if lines else []
    gap = statistics.median(ln.height for ln in lines)
    bands = _split(lines, lambda ln: (ln.y0, ln.y1), gap)
    if len(bands) > 1:
        return [block for band in bands for block in blocks(band)]
    columns = _split(lines, lambda ln: (ln.x0, ln.x1), gap)
    width = max(ln.x1 for ln in lines) - min(ln.x0 for ln in lines)
    if len(columns) > 1 and all(_is_text_column(column, width) for column in columns):
        return [block for column in columns for block in blocks(column)]
    return [lines]


def _split(
    lines: list[Line], span: Callable[[Line], tuple[float, float]], min_gap: float
) -> list[list[Line]]:
    """Groups of lines separated by blank stretches of at least ``min_gap`` along one axis."""
    ordered = sorted(lines, key=lambda ln: span(ln)[0])
    groups: list[list[Line]] = [[ordered[0]]]
    reach = span(ordered[0])[1]
    for line in ordered[1:]:
        start, end = span(line)
        if start - reach >= min_gap:
            groups.append([line])
        else:
            groups[-1].append(line)
        reach = max(reach, end)
    return groups


def _is_text_column(lines: list[Line], region_width: float) -> bool:
    return statistics.median(ln.x1 - ln.x0 for ln in lines) >= 0.25 * region_width


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


def paragraphs(lines: list[Line]) -> list[Paragraph]:
    """Every region's rows joined into paragraphs, in reading order, with their boxes.

    Within a region a gap over half a line high starts a new paragraph:
    detected boxes are padded (about 1.3x the glyphs), so lines set solid touch
    or overlap and a blank half line already reads as a paragraph break.
    """
    result: list[list[list[Line]]] = []
    for block in blocks(lines):
        previous_bottom: float | None = None
        for row in rows(block):
            top = min(ln.y0 for ln in row)
            height = max(ln.height for ln in row)
            if previous_bottom is None or top - previous_bottom > 0.5 * height:
                result.append([row])
            else:
                result[-1].append(row)
            previous_bottom = max(ln.y1 for ln in row)
    return [_paragraph(part) for part in result]


def _paragraph(part: list[list[Line]]) -> Paragraph:
    text = join_words([join_words([ln.text for ln in row]) for row in part])
    every = [ln for row in part for ln in row]
    box = (
        min(ln.x0 for ln in every),
        min(ln.y0 for ln in every),
        max(ln.x1 for ln in every),
        max(ln.y1 for ln in every),
    )
    return text, box


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

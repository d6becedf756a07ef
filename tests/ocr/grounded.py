"""What DeepSeek-OCR would answer for the pages of :mod:`tests.ocr.scanset`.

:class:`ScanReplier` is a :class:`tests.ocr.fake_vllm.FakeVllm` ``replier``: it
recognises which page an image shows (the nearest thumbnail) and answers that
page's truth as grounding markup (a title, an HTML table, text blocks), with
boxes on the model's 0-999 grid.
"""

from __future__ import annotations

import html
import io

import numpy as np
import pymupdf
from PIL import Image

from tests.ocr.scanset import ScanPage

THUMB = (24, 34)  # A4's aspect


def _thumb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L").resize(THUMB), dtype=np.float32)


def _block(label: str, top: int, bottom: int, body: str) -> str:
    return f"<|ref|>{label}<|/ref|><|det|>[[90, {top}, 910, {bottom}]]<|/det|>\n{body}\n\n"


def answer(scan: ScanPage) -> str:
    """The page's truth as DeepSeek-OCR's grounding markup."""
    lines = scan.truth.split("\n")
    parts, top = [], 60
    if scan.layout != "plain":
        parts.append(_block("title", top, top + 25, "# " + lines.pop(0)))
        top += 40
    if scan.layout == "table":
        rows, lines = lines[:14], lines[14:]
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row.split(" ")) + "</tr>"
            for row in rows
        )
        parts.append(_block("table", top, top + 400, f"<table>{cells}</table>"))
        top += 420
    step = max(1, (940 - top) // max(1, len(lines)))
    for line in lines:
        parts.append(_block("text", top, top + step - 2, line))
        top += step
    return "".join(parts) + "<\uff5cend\u2581of\u2581sentence\uff5c>"


class ScanReplier:
    """Answers each page image with the grounding markup of the scan page it shows."""

    def __init__(self, scans: list[ScanPage]) -> None:
        self.scans = scans
        self.thumbs = []
        for scan in scans:
            with pymupdf.open(stream=scan.pdf, filetype="pdf") as doc:
                pix = doc[0].get_pixmap(dpi=36, alpha=False)
            self.thumbs.append(_thumb(Image.frombytes("RGB", (pix.width, pix.height), pix.samples)))

    def __call__(self, png: bytes) -> str:
        with Image.open(io.BytesIO(png)) as image:
            seen = _thumb(image)
        distances = [float(np.mean((seen - thumb) ** 2)) for thumb in self.thumbs]
        return answer(self.scans[int(np.argmin(distances))])

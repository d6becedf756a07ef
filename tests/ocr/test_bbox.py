"""One bbox scale: the same text has the same box whether it was read from the text layer
or from a scan of the page, and DeepSeek-OCR's 0-999 grid lands on the same scale."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ragapi_ocr import grounding, rapid, tasks
from ragapi_ocr.content import BBOX_SCALE
from tests.ocr import documents as docs

OPTIONS = tasks.LocalOptions(tasks.Limits(10, 40_000_000), 200, 50, 0.5, 0.02, 8)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    rapid.configure(1)


def box_of(path: Path) -> list[int]:
    """The box around every text item of the page."""
    boxes = [i["bbox"] for i in tasks.local_page(str(path), "pdf", 0, OPTIONS).items]
    assert boxes
    x0s, y0s, x1s, y1s = zip(*boxes, strict=True)
    return [min(x0s), min(y0s), max(x1s), max(y1s)]


def test_text_layer_and_scan_give_the_same_box(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=docs.WIDTH, height=docs.HEIGHT)
    for number, line in enumerate(docs.ENGLISH):
        page.insert_text((28, 48 + number * 30), line, fontname="helv", fontsize=13)
    (tmp_path / "text.pdf").write_bytes(doc.tobytes())
    (tmp_path / "scan.pdf").write_bytes(docs.scanned_pdf()[0])
    from_layer, from_scan = box_of(tmp_path / "text.pdf"), box_of(tmp_path / "scan.pdf")
    assert all(0 <= v <= BBOX_SCALE for v in from_layer + from_scan)
    # Same place within 3% of the page (the scan is tilted 1.5 degrees and OCR pads its boxes).
    assert all(abs(a - b) <= 30 for a, b in zip(from_layer, from_scan, strict=True)), (
        from_layer,
        from_scan,
    )


def test_deepseek_grid_is_rescaled() -> None:
    answer = "<|ref|>text<|/ref|><|det|>[[0, 0, 999, 999]]<|/det|>\nAll of it"
    (item,) = grounding.parse_page(answer, 0).items
    assert item["bbox"] == [0, 0, 1000, 1000]

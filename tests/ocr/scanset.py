"""A seeded set of scanned A4 pages with their ground truth (benchmarks and conformance tests).

Each page is English or Chinese, laid out as plain paragraphs, a ruled table
under a heading, or two columns under a title; it is typeset with PyMuPDF's
own fonts (``helv``/``tiro`` and ``china-s``, Droid Sans Fallback: the box has
no CJK system font), rendered in grey at 150, 200 or 300 dpi, rotated by up to 2.5
degrees, blurred, noised and JPEG-compressed, and wrapped as an image-only PDF
page. The truth is the text in reading order (a table row by row, a left
column before the right one). The same seed gives the same pages.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymupdf
from PIL import Image, ImageFilter

Language = Literal["en", "zh"]
Layout = Literal["plain", "table", "columns"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
LAYOUTS: tuple[Layout, ...] = ("plain", "table", "columns")
WIDTH, HEIGHT = 595.0, 842.0  # A4 in points
MARGIN = 56.0

_ENGLISH = (
    "agreement party tenant service payment invoice delivery schedule clause term notice "
    "contract period amount total report quarter region revenue account balance order "
    "supplier customer warranty liability insurance property building office lease annual "
    "monthly rate value price cost signed dated effective written consent shall must each "
    "within days after before upon under their this that with from into other any all"
)
ENGLISH_WORDS = _ENGLISH.split()
CHINESE = (
    "合同双方甲乙应当按照本协议约定履行义务支付款项交付货物服务期限违约责任争议解决"
    "适用法律生效条件签订日期地址电话银行账户金额总计年度季度月份报告收入成本利润税费"
    "发票数量单价质量标准验收保修维护管理公司北京上海广州深圳有限责任第一二三四五六七八九十"
)


@dataclass(frozen=True)
class ScanPage:
    """One scanned page: how it was made, its truth and its one-page image-only PDF."""

    number: int
    language: Language
    layout: Layout
    dpi: int
    angle: float
    truth: str
    pdf: bytes


def _sentence(rng: random.Random, language: Language, size: int) -> str:
    if language == "en":
        words = [rng.choice(ENGLISH_WORDS) for _ in range(size)]
        words[rng.randrange(size)] = str(rng.randint(10, 9999))
        return " ".join(words).capitalize()
    return "".join(rng.choice(CHINESE) for _ in range(size))


def _font(language: Language, rng: random.Random) -> str:
    return "china-s" if language == "zh" else rng.choice(("helv", "tiro"))


def _lines(
    page: pymupdf.Page, lines: list[str], x: float, y: float, font: str, size: float
) -> float:
    for line in lines:
        page.insert_text((x, y), line, fontname=font, fontsize=size)
        y += size * 1.6
    return y


def _plain(page: pymupdf.Page, rng: random.Random, language: Language) -> list[str]:
    font, truth, y = _font(language, rng), [], MARGIN + 20
    for _ in range(4):  # paragraphs
        lines = [_sentence(rng, language, 9 if language == "en" else 34) for _ in range(6)]
        y = _lines(page, lines, MARGIN, y, font, 11) + 11
        truth += lines
    return truth


def _table(page: pymupdf.Page, rng: random.Random, language: Language) -> list[str]:
    font = _font(language, rng)
    title = _sentence(rng, language, 5 if language == "en" else 12)
    truth = [title]
    _lines(page, [title], MARGIN, MARGIN + 20, font, 14)
    columns, cell_w, cell_h, top = 4, 110.0, 24.0, MARGIN + 50
    for r in range(14):
        row = [
            _sentence(rng, language, 1 if language == "en" else 4)
            if c == 0 or r == 0
            else str(rng.randint(1, 99999))
            for c in range(columns)
        ]
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(MARGIN + c * cell_w, top + r * cell_h, 0, 0)
            rect.x1, rect.y1 = rect.x0 + cell_w, rect.y0 + cell_h
            page.draw_rect(rect, color=(0, 0, 0), width=0.8)
            face = "helv" if cell.isdigit() else font  # figures set in a Latin face
            page.insert_text((rect.x0 + 6, rect.y1 - 8), cell, fontname=face, fontsize=10)
        truth.append(" ".join(row))
    below = [_sentence(rng, language, 9 if language == "en" else 34) for _ in range(5)]
    _lines(page, below, MARGIN, top + 14 * cell_h + 30, font, 11)
    return truth + below


def _columns(page: pymupdf.Page, rng: random.Random, language: Language) -> list[str]:
    font = _font(language, rng)
    title = _sentence(rng, language, 5 if language == "en" else 12)
    _lines(page, [title], MARGIN, MARGIN + 20, font, 15)
    column_w, gutter = (WIDTH - 2 * MARGIN - 30) / 2, 30.0
    truth = [title]
    for column in range(2):
        lines = [_sentence(rng, language, 4 if language == "en" else 16) for _ in range(26)]
        _lines(page, lines, MARGIN + column * (column_w + gutter), MARGIN + 70, font, 10)
        truth += lines
    return truth


def _scan(doc: pymupdf.Document, rng: random.Random, dpi: int, angle: float) -> bytes:
    """The page as a degraded JPEG: rotated, blurred, noisy, compressed."""
    pix = doc[0].get_pixmap(dpi=dpi, alpha=False)
    image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples).convert("L")
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.4, 0.9) * dpi / 200))
    pixels = np.asarray(image, dtype=np.float32)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(6, 14), pixels.shape)
    noisy = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=rng.randint(45, 75))
    return buffer.getvalue()


def page(number: int, seed: int = 7) -> ScanPage:
    """Page ``number`` of the set: languages and layouts take turns, the rest is drawn."""
    rng = random.Random(f"{seed}:{number}")
    language = LANGUAGES[number % len(LANGUAGES)]
    layout = LAYOUTS[(number // len(LANGUAGES)) % len(LAYOUTS)]
    doc = pymupdf.open()
    source = doc.new_page(width=WIDTH, height=HEIGHT)
    truth = {"plain": _plain, "table": _table, "columns": _columns}[layout](source, rng, language)
    dpi, angle = rng.choice((150, 200, 300)), round(rng.uniform(-2.5, 2.5), 2)
    jpeg = _scan(doc, rng, dpi, angle)
    scan = pymupdf.open()
    target = scan.new_page(width=WIDTH, height=HEIGHT)
    target.insert_image(target.rect, stream=jpeg)
    data = bytes(scan.tobytes())
    doc.close()
    scan.close()
    return ScanPage(number, language, layout, dpi, angle, "\n".join(truth), data)


def pages(count: int, seed: int = 7) -> list[ScanPage]:
    return [page(n, seed) for n in range(count)]


def document(scans: list[ScanPage]) -> bytes:
    """The pages as one PDF, in order."""
    doc = pymupdf.open()
    for scan in scans:
        with pymupdf.open(stream=scan.pdf, filetype="pdf") as one:
            doc.insert_pdf(one)
    data = bytes(doc.tobytes())
    doc.close()
    return data

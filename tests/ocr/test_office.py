"""Office files: docx, pptx and xlsx made with their own libraries, read without OCR."""

from __future__ import annotations

import io

import docx
import httpx
import openpyxl
import pptx
from pptx.util import Inches

from tests.conftest import TenantFactory


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Supply contract", level=1)
    document.add_paragraph("The supplier delivers 300 pallets every month.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Item", "Price"], ["Pallet", "19.90"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_pptx() -> bytes:
    deck = pptx.Presentation()
    for title, body in [("Roadmap 2027", "Ship the OCR service"), ("Risks", "Budget overrun")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Numbers"
    shape = slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1))
    for r, row in enumerate([["Quarter", "Sales"], ["Q3", "77"]]):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Stock"
    for row in [("Part", "Count"), ("Bolt", 120), ("Nut", 340)]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def _read(ocr: httpx.AsyncClient, headers: dict[str, str], data: bytes, name: str) -> dict:  # type: ignore[type-arg]
    response = await ocr.post("/v1/ocr", headers=headers, files={"file": (name, data)})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_docx(ocr: httpx.AsyncClient, tenant_factory: TenantFactory) -> None:
    tenant = await tenant_factory()
    result = await _read(ocr, tenant.headers, make_docx(), "contract.bin")
    first = result["content"][0]
    assert first == {"type": "text", "text": "Supply contract", "page_idx": 0, "text_level": 1}
    assert "300 pallets" in result["markdown"]
    table = next(i for i in result["content"] if i["type"] == "table")
    assert "| Pallet | 19.90 |" in table["table_body"]


async def test_pptx_slides_are_pages(ocr: httpx.AsyncClient, tenant_factory: TenantFactory) -> None:
    tenant = await tenant_factory()
    result = await _read(ocr, tenant.headers, make_pptx(), "deck.pptx")
    assert result["pages"] == 3
    titles = [i["text"] for i in result["content"] if i.get("text_level") == 1]
    assert titles == ["Roadmap 2027", "Risks", "Numbers"]
    table = next(i for i in result["content"] if i["type"] == "table")
    assert table["page_idx"] == 2
    assert "| Q3 | 77 |" in table["table_body"]


async def test_xlsx_sheet_is_a_table(ocr: httpx.AsyncClient, tenant_factory: TenantFactory) -> None:
    tenant = await tenant_factory()
    result = await _read(ocr, tenant.headers, make_xlsx(), "stock.xlsx")
    table = next(i for i in result["content"] if i["type"] == "table")
    assert table["table_body"].splitlines()[0] == "| Part | Count |"
    assert "| Nut | 340 |" in table["table_body"]

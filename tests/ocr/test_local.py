"""The local engine through ``POST /v1/ocr``: real OCR output against the truth."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import TenantFactory
from tests.ocr import documents as docs
from tests.ocr.textmetrics import cer, normalise

MAX_CER = 0.02


async def post(
    ocr: httpx.AsyncClient, headers: dict[str, str], data: bytes, name: str, **form: str
) -> httpx.Response:
    return await ocr.post("/v1/ocr", headers=headers, files={"file": (name, data)}, data=form)


async def read(
    ocr: httpx.AsyncClient, headers: dict[str, str], data: bytes, name: str
) -> dict[str, Any]:
    response = await post(ocr, headers, data, name)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["engine"] == "local"
    return result


def assert_reads(result: dict[str, Any], truth: list[str], *tokens: str) -> None:
    text = "\n".join(item.get("text", "") for item in result["content"] if item["type"] == "text")
    assert cer("".join(truth), text) <= MAX_CER, text
    assert cer("".join(truth), result["markdown"]) <= MAX_CER, result["markdown"]
    for token in tokens:
        assert normalise(token) in normalise(result["markdown"]), token


@pytest.mark.parametrize(
    ("make", "tokens"),
    [
        pytest.param(docs.text_pdf, ("4711", "1234.56", "QX-88"), id="text-layer"),
        pytest.param(docs.image_only_text_pdf, ("ACME", "1234.56"), id="text-only-in-image"),
        pytest.param(docs.scanned_pdf, ("Invoice", "4711", "1234.56", "QX-88"), id="scanned"),
        pytest.param(docs.chinese_text_pdf, ("北京市朝阳区", "4711"), id="chinese-text-layer"),
        pytest.param(
            lambda: docs.scanned_pdf(docs.CHINESE, "china-s"),
            ("光学字符识别", "建国路"),
            id="chinese-scan",
        ),
    ],
)
async def test_pdf_reads_within_cer(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, make: Any, tokens: tuple[str, ...]
) -> None:
    tenant = await tenant_factory()
    data, truth = make()
    result = await read(ocr, tenant.headers, data, "doc.pdf")
    assert_reads(result, truth, *tokens)
    pages = {item["page_idx"] for item in result["content"]}
    assert pages == set(range(result["pages"]))


async def test_text_pages_keep_order_and_pages(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    data, _ = docs.text_pdf(pages=2)
    result = await read(ocr, tenant.headers, data, "two.pdf")
    assert result["pages"] == 2
    texts = [(i["page_idx"], i["text"]) for i in result["content"]]
    assert texts[0] == (0, "Page 1: Invoice 4711 from ACME Corporation")
    assert texts[3] == (1, "Page 2: Invoice 4711 from ACME Corporation")


async def test_table_page_gives_a_markdown_table(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    result = await read(ocr, tenant.headers, docs.table_pdf(), "table.pdf")
    tables = [item for item in result["content"] if item["type"] == "table"]
    assert len(tables) == 1
    body = tables[0]["table_body"]
    assert body.splitlines() == [
        "| Region | Q1 | Q2 |",
        "|---|---|---|",
        "| North | 120 | 135 |",
        "| South | 98 | 101 |",
    ]
    assert body in result["markdown"]
    # The cells are not repeated as loose text.
    loose = " ".join(i["text"] for i in result["content"] if i["type"] == "text")
    assert "North" not in loose
    assert "Quarterly results" in loose


async def test_text_page_image_is_kept_and_read(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    data, truth = docs.figure_pdf()
    result = await read(ocr, tenant.headers, data, "figure.pdf")
    kinds = [item["type"] for item in result["content"]]
    assert kinds.count("image") == 1
    image = next(item for item in result["content"] if item["type"] == "image")
    assert image["page_idx"] == 0
    assert len(image["bbox"]) == 4
    assert "img_path" not in image  # nothing is stored for a direct HTTP call
    assert_reads(result, truth, "42 widgets")


async def test_scanned_png_image(ocr: httpx.AsyncClient, tenant_factory: TenantFactory) -> None:
    tenant = await tenant_factory()
    result = await read(ocr, tenant.headers, docs.scanned_png(docs.ENGLISH, "helv"), "scan.png")
    assert result["pages"] == 1
    assert_reads(result, docs.ENGLISH, "QX-88")


async def test_health_answers_while_ocr_runs(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    """The loop stays free: probes answer while pages are being OCR'd in the pool."""
    tenant = await tenant_factory()
    data, _ = docs.scanned_pdf()
    work = [asyncio.create_task(post(ocr, tenant.headers, data, f"s{i}.pdf")) for i in range(3)]
    await asyncio.sleep(0.2)
    health = await ocr.get("/healthz")
    metrics = await ocr.get("/metrics")
    assert health.status_code == 200
    assert metrics.status_code == 200
    assert not all(task.done() for task in work)
    for response in await asyncio.gather(*work):
        assert response.status_code == 200


async def test_multi_page_tiff_pages_and_webp(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    first, second = docs.ENGLISH[:2], docs.ENGLISH[2:]
    result = await read(ocr, tenant.headers, docs.scanned_tiff([first, second]), "scan.tif")
    assert result["pages"] == 2
    by_page = [
        " ".join(i["text"] for i in result["content"] if i["page_idx"] == page) for page in (0, 1)
    ]
    assert cer("".join(first), by_page[0]) <= MAX_CER
    assert cer("".join(second), by_page[1]) <= MAX_CER
    webp = await read(ocr, tenant.headers, docs.scanned_webp(docs.ENGLISH), "scan.webp")
    assert_reads(webp, docs.ENGLISH, "4711")

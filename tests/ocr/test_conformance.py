"""The local engine and the DeepSeek engine agree: same content-list shape, same answers.

The same scanned pages (:mod:`tests.ocr.scanset`, English and Chinese) go
through the local engine and through the DeepSeek engine against a fake vLLM
that answers each page with grounding markup; both content lists must follow
one schema (types, keys, ``page_idx``, ``bbox`` on the 0-1000 scale), read the
pages' text, and, uploaded through ingest, be indexed and retrieved alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ragapi_common.bus import Bus
from ragapi_ocr.content import BBOX_SCALE
from tests.conftest import TenantFactory
from tests.ingest.conftest import StackFactory
from tests.ingest.pipeline import cited, tenant_rag
from tests.ocr import documents as docs
from tests.ocr import scanset
from tests.ocr.fake_vllm import FakeVllm
from tests.ocr.grounded import ScanReplier
from tests.ocr.textmetrics import cer
from tests.support.apps import TenantHandle

MODEL = "deepseek-ai/DeepSeek-OCR"
SCANS = scanset.pages(2)  # an English A4 page, then a Chinese one
#: Small pages for the indexing check: the fake embedder (a bag of hashed words) finds a
#: short chunk from a question about it; a dense A4 page's chunk is too diluted for that.
SMALL = [
    scanset.ScanPage(0, "en", "plain", 200, 1.5, "\n".join(docs.ENGLISH), docs.scanned_pdf()[0]),
    scanset.ScanPage(
        1,
        "zh",
        "plain",
        200,
        1.5,
        "\n".join(docs.CHINESE),
        docs.scanned_pdf(docs.CHINESE, "china-s")[0],
    ),
]
KEYS = {
    "text": {"type", "text", "page_idx", "bbox", "text_level"},
    "table": {"type", "table_body", "table_caption", "table_footnote", "page_idx", "bbox"},
    "image": {"type", "img_path", "image_caption", "image_footnote", "page_idx", "bbox"},
    "equation": {"type", "latex", "text_format", "page_idx", "bbox"},
}


@pytest.fixture
async def scan_vllm() -> AsyncIterator[FakeVllm]:
    async with FakeVllm(replier=ScanReplier(SCANS + SMALL)) as server:
        yield server


async def tenants(tenant_factory: TenantFactory, vllm: FakeVllm) -> dict[str, TenantHandle]:
    endpoint = {"base_url": vllm.base_url, "model": MODEL, "api_key": "sk-ocr"}
    return {
        "local": await tenant_factory(config={"ocr": {"engine": "local"}}),
        "deepseek": await tenant_factory(config={"ocr": {"engine": "deepseek", **endpoint}}),
    }


def check_shape(result: dict[str, Any]) -> None:
    assert result["pages"] == len(SCANS)
    assert {item["page_idx"] for item in result["content"]} == set(range(len(SCANS)))
    for item in result["content"]:
        assert set(item) <= KEYS[item["type"]], item
        assert {"type", "page_idx", "bbox"} <= set(item), item
        x0, y0, x1, y1 = item["bbox"]
        assert all(isinstance(v, int) for v in item["bbox"]), item
        assert 0 <= x0 <= x1 <= BBOX_SCALE, item
        assert 0 <= y0 <= y1 <= BBOX_SCALE, item


def page_text(result: dict[str, Any], page: int) -> str:
    parts = []
    for item in result["content"]:
        if item["page_idx"] == page:
            parts.append(item.get("text") or item.get("table_body", ""))
    return "\n".join(parts)


async def test_both_engines_give_one_shape_and_the_same_text(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, scan_vllm: FakeVllm
) -> None:
    by_engine = await tenants(tenant_factory, scan_vllm)
    document = scanset.document(SCANS)
    results = {}
    for engine, tenant in by_engine.items():
        response = await ocr.post(
            "/v1/ocr", headers=tenant.headers, files={"file": ("scan.pdf", document)}
        )
        assert response.status_code == 200, response.text
        results[engine] = response.json()
        check_shape(results[engine])
    assert len(scan_vllm.requests) == len(SCANS)  # one model call a page, local made none
    for number, scan in enumerate(SCANS):
        for engine, result in results.items():
            assert cer(scan.truth, page_text(result, number)) < 0.05, (engine, number)


async def test_both_engines_index_and_answer_alike(
    ocr: httpx.AsyncClient,
    bus: Bus,
    tenant_factory: TenantFactory,
    scan_vllm: FakeVllm,
    make_ingest: StackFactory,
) -> None:
    stack = await make_ingest()
    # One document a language: the fake embedder (hashed words, CJK characters and bigrams)
    # dilutes a short English question in a chunk that is mostly Chinese.
    questions = {"en.pdf": "Invoice 4711 from ACME Corporation", "zh.pdf": "北京市朝阳区建国路"}
    files = [(f"{scan.language}.pdf", scan.pdf) for scan in SMALL]
    for tenant in (await tenants(tenant_factory, scan_vllm)).values():
        response = await stack.upload(tenant, files)
        assert response.status_code == 202, response.text
        task = await stack.wait_task(tenant, response.json()["task_id"])
        instance = await tenant_rag(bus, stack.rag, tenant)
        for doc in task["documents"]:
            assert doc["status"] == "processed", doc
            assert not doc.get("warning"), doc
            assert doc["doc_id"] in await cited(instance, questions[doc["name"]]), doc
    assert len(scan_vllm.requests) == len(SMALL)  # the deepseek tenant's pages, one call each

"""Upload through the ingest service, OCR here, index there: a scan ends up retrievable."""

from __future__ import annotations

import httpx

from ragapi_common.bus import Bus
from tests.conftest import TenantFactory
from tests.ingest.conftest import StackFactory
from tests.ingest.pipeline import cited, tenant_rag
from tests.ocr import documents as docs
from tests.ocr.fake_vllm import FakeVllm


async def test_scanned_pdf_is_indexed_and_bad_pdf_fails_with_reason(
    ocr: httpx.AsyncClient, bus: Bus, tenant_factory: TenantFactory, make_ingest: StackFactory
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory()
    scan, _ = docs.scanned_pdf()
    response = await stack.upload(
        tenant, [("scan.pdf", scan), ("locked.pdf", docs.encrypted_pdf())]
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    task = await stack.wait_task(tenant, answer["task_id"])
    by_name = {doc["name"]: doc for doc in task["documents"]}
    assert by_name["scan.pdf"]["status"] == "processed", by_name
    assert by_name["locked.pdf"]["status"] == "failed"
    assert "encrypted" in by_name["locked.pdf"]["error"]
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert by_name["scan.pdf"]["doc_id"] in await cited(instance, "Invoice 4711 ACME Corporation")


async def test_a_page_read_by_the_fallback_is_the_documents_warning(
    ocr: httpx.AsyncClient,
    bus: Bus,
    tenant_factory: TenantFactory,
    make_ingest: StackFactory,
    vllm: FakeVllm,
) -> None:
    stack = await make_ingest()
    endpoint = {"base_url": vllm.base_url, "model": "deepseek-ai/DeepSeek-OCR"}
    tenant = await tenant_factory(
        config={"ocr": {"engine": "deepseek", "fallback": True, **endpoint}}
    )
    vllm.configure(fail_forever=True, fail_statuses=(500,))
    scan, _ = docs.scanned_pdf()
    response = await stack.upload(tenant, [("scan.pdf", scan)])
    assert response.status_code == 202, response.text
    task = await stack.wait_task(tenant, response.json()["task_id"])
    (doc,) = task["documents"]
    assert doc["status"] == "processed", doc
    assert doc["warning"].startswith("page 1 read by the local engine:"), doc
    assert vllm.requests  # DeepSeek-OCR was asked first
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert doc["doc_id"] in await cited(instance, "Invoice 4711 ACME Corporation")

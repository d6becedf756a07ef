"""Upload through the ingest service, OCR here, index there: a scan ends up retrievable."""

from __future__ import annotations

import httpx

from ragapi_common.bus import Bus
from tests.conftest import TenantFactory
from tests.ingest.conftest import StackFactory
from tests.ingest.pipeline import cited, tenant_rag
from tests.ocr import documents as docs


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

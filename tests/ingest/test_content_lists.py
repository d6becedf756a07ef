"""OCR content lists through the index worker: analysed items, and a warning when an
analysis answer is unusable (the document is still processed)."""

from __future__ import annotations

import json
from typing import Any

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import IndexJob
from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle
from tests.support.images import png

from .conftest import IngestStack, StackFactory
from .pipeline import cited, eventually, tenant_rag
from .test_http import png_bytes


def _content(image: str) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": "Gallowmere Quarry ships slate to Ostwick.", "page_idx": 0},
        {"type": "table", "table_caption": ["Table 1: Gallowmere Quarry output"],
         "table_body": "| Year | Tonnes |\n|---|---|\n| 2023 | 410 |", "page_idx": 0},
        {"type": "equation", "latex": r"$$T = 410 \cdot k$$", "page_idx": 0},
        {"type": "image", "img_path": image, "image_caption": ["Figure 1: Gallowmere Quarry map"],
         "page_idx": 0},
    ]  # fmt: skip


async def _index_content_list(stack: IngestStack, tenant: TenantHandle, bus: Bus) -> str:
    """Upload an image (it waits for OCR), then hand its content list to the index worker."""
    response = await stack.upload(tenant, [("p.png", png_bytes())])
    assert response.status_code == 202, response.text
    body = response.json()
    doc_id = body["documents"][0]["doc_id"]
    image = f"{tenant.id}/{doc_id}/images/page-0.png"
    await bus.files.write_bytes(image, png(80, 80))
    content_name = f"{tenant.id}/{doc_id}/content.json"
    content = {"content": _content(image)}
    await bus.files.write_bytes(content_name, json.dumps(content).encode())
    job = IndexJob(
        tenant_id=tenant.id, task_id=body["task_id"], doc_id=doc_id, name="p.png",
        content_type="image/png", content_object=content_name,
    )  # fmt: skip
    await bus.submit(subjects.JOB_INDEX, job, msg_id=f"test-index:{doc_id}")
    return str(doc_id)


async def _settled(stack: IngestStack, tenant: TenantHandle, doc_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        got = await stack.client.get(f"/v1/documents/{doc_id}", headers=tenant.headers)
        body: dict[str, Any] = got.json()
        return body if body["status"] in ("processed", "failed") else None

    return await eventually(check)


async def test_a_content_list_is_analysed_by_the_llm_and_the_tenant_vlm(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory({"vlm": {"base_url": stack.fake.base_url, "model": "fake-vlm"}})
    doc_id = await _index_content_list(stack, tenant, bus)
    document = await _settled(stack, tenant, doc_id)
    assert (document["status"], document.get("warning")) == ("processed", None), document
    analyses = [len(stack.fake.analysis_requests(k)) for k in ("table", "equation", "image")]
    assert analyses == [1, 1, 1]
    instance = await tenant_rag(bus, stack.rag, tenant)
    kinds = {n["properties"].get("entity_type") for n in (await instance.graph(None, 2, 200)).nodes}
    assert {"table", "equation", "drawing"} <= kinds
    assert doc_id in await cited(instance, "Gallowmere Quarry output table")


async def test_an_unusable_analysis_answer_leaves_a_warning_not_a_failure(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest()
    stack.fake.configure(malformed_analysis=("equation",))
    tenant = await tenant_factory()
    doc_id = await _index_content_list(stack, tenant, bus)
    document = await _settled(stack, tenant, doc_id)
    assert document["status"] == "processed", document
    assert "multimodal analysis failed" in document["warning"]
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert doc_id in await cited(instance, "Gallowmere Quarry ships slate")

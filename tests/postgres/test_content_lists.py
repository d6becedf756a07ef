"""A content list through LightRAG's native multimodal pipeline on the ``postgres`` profile:
the doc-id mapping (track id), redelivery, references and delete work on PG storages."""

from __future__ import annotations

from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.test_content import ASSETS, ITEMS
from tests.support.fake_provider import FakeProvider


async def test_a_content_list_is_analysed_cited_and_deleted(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for(vlm={"base_url": fake.base_url, "model": "fake-vlm"}))
    report = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    assert report.warnings == ()
    assert [len(fake.analysis_requests(k)) for k in ("table", "equation", "image")] == [1, 1, 1]
    assert await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS) == report

    found = await tenant.retrieve(Question("Brightwater Mills output by year", mode="naive"))
    assert (found.references[0].doc_id, found.references[0].name) == ("doc-m", "mills.pdf")
    kinds = {n["properties"].get("entity_type") for n in (await tenant.graph(None, 2, 200)).nodes}
    assert {"table", "equation", "drawing"} <= kinds

    await tenant.delete("doc-m")
    found = await tenant.retrieve(Question("Brightwater Mills output by year", mode="naive"))
    assert found.references == []

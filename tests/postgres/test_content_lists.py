"""A content list through LightRAG's native multimodal pipeline on the ``postgres`` profile:
the doc-id mapping (track id), redelivery, references and delete work on PG storages."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ragapi_common.rag.api import Question
from ragapi_common.rag.build import Models
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.rag.conftest import TenantFor, staged_files
from tests.rag.test_content import ASSETS, ITEMS
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.slowness import slowness


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


async def test_a_replica_takes_over_a_content_list_another_left_half_indexed(
    settings: CommonSettings, models: Models, tenant_for: TenantFor, fake: FakeProvider,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Each replica has its own disk: what a job needs comes from the job, not the pod."""
    first, second = (
        Registry(settings.model_copy(update={"data_dir": tmp_path / name}), models)
        for name in ("pod-a", "pod-b")
    )
    context = tenant_for(vlm={"base_url": fake.base_url, "model": "fake-vlm"})
    try:
        async with asyncio.timeout(120 * slowness()):
            fake.configure(latency_s=30.0, paths=(CHAT,))
            tenant = await first.get(context)
            leaving = asyncio.create_task(
                tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
            )
            await fake.until(lambda f: f.in_flight > 0)  # its analysis is under way
            leaving.cancel()  # the job goes back to the queue (a shutdown) ...
            await asyncio.wait({leaving})
            fake.configure(latency_s=0.0)
            # ... and the other replica takes it.
            other = await second.get(context)
            report = await other.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
            assert report.warnings == ()
            found = await other.retrieve(Question("Brightwater Mills output by year", mode="naive"))
            assert found.references[0].doc_id == "doc-m"
    finally:
        await first.close()
        await second.close()
    assert staged_files(tmp_path) == []

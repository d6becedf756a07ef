"""Content lists are staged per tenant and per run: no process-wide input directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ragapi_common.rag.api import Question
from ragapi_common.rag.build import Models
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.rag.conftest import TenantFor, staged_files
from tests.rag.test_content import ASSETS, ITEMS


async def test_two_registries_with_their_own_data_dirs_index_content_lists_at_once(
    settings: CommonSettings, models: Models, tenant_for: TenantFor, tmp_path: Path
) -> None:
    registries = [
        Registry(settings.model_copy(update={"data_dir": tmp_path / name}), models)
        for name in ("one", "two")
    ]
    try:
        tenants = [await registry.get(tenant_for()) for registry in registries]
        reports = await asyncio.gather(
            *(t.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS) for t in tenants)
        )
        assert all(report.chunks for report in reports)
        for tenant in tenants:
            found = await tenant.retrieve(Question("Brightwater Mills output", mode="naive"))
            assert found.references[0].doc_id == "doc-m"
    finally:
        for registry in registries:
            await registry.close()
    assert staged_files(tmp_path) == []

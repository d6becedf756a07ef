"""OCR content lists through LightRAG's native parser and multimodal analysis.

Tables and equations are analysed by the tenant's LLM, images by its VLM (the
fake provider answers LightRAG's three analysis prompts); the analysed items
become chunks and graph nodes, cited with our doc_id and the upload's name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ragapi_common.errors import RagapiError
from ragapi_common.rag.api import Question
from ragapi_common.rag.content import to_markdown
from ragapi_common.rag.multimodal import file_name, lightrag_id, track_id
from ragapi_common.rag.registry import Registry
from ragapi_common.rag.sources import split_source
from ragapi_common.rag.tenant import LightRagTenant
from tests.rag.conftest import TenantFor, staged_files
from tests.support.fake_answers import EQUATION_MARKER, IMAGE_MARKER, TABLE_MARKER
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.images import png

IMAGE_PATH = "pages/1/img-0.png"
PNG = png(96, 80)
ITEMS: list[dict[str, Any]] = [
    {"type": "text", "text": "Brightwater Mills", "text_level": 1, "page_idx": 0},
    {"type": "text", "text": "Quarterly report of Brightwater Mills.", "page_idx": 0},
    {
        "type": "table",
        "table_caption": ["Table 1: Brightwater Mills output by year"],
        "table_body": "| Year | Tonnes of flour |\n|---|---|\n| 2022 | 1200 |\n| 2023 | 1875 |",
        "page_idx": 0,
    },
    {"type": "equation", "latex": r"Y_{t} = \alpha K_{t} + \beta L_{t}", "page_idx": 1},
    {
        "type": "image",
        "img_path": IMAGE_PATH,
        "image_caption": ["Figure 2: the Brightwater Mills waterwheel"],
        "page_idx": 1,
    },
]
ASSETS = {IMAGE_PATH: PNG}


def _vlm(fake: FakeProvider) -> dict[str, str]:
    return {"base_url": fake.base_url, "model": "fake-vlm"}


def test_items_become_markdown_with_bundled_images() -> None:
    doc = to_markdown(ITEMS, ASSETS)
    assert doc.text.startswith("# Brightwater Mills\n\nQuarterly report")
    assert (
        "Table 1: Brightwater Mills output by year\n\n<table><thead><tr><th>Year</th>"
        "<th>Tonnes of flour</th></tr></thead><tbody><tr><td>2022</td>"
    ) in doc.text
    assert "$$\nY_{t} = \\alpha K_{t} + \\beta L_{t}\n$$" in doc.text
    assert "![Figure 2: the Brightwater Mills waterwheel](images/img-0000.png)" in doc.text
    assert doc.images == {"images/img-0000.png": ASSETS[IMAGE_PATH]}
    # An image whose bytes are missing keeps its caption as text.
    assert "![" not in to_markdown(ITEMS, {}).text


async def test_items_are_analysed_and_become_graph_nodes(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for(vlm=_vlm(fake)))
    report = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    assert report.warnings == ()
    counts = {kind: len(fake.analysis_requests(kind)) for kind in ("table", "equation", "image")}
    assert counts == {"table": 1, "equation": 1, "image": 1}
    [vision] = fake.analysis_requests("image")
    assert vision["json"]["model"] == "fake-vlm"
    parts = vision["json"]["messages"][-1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")

    nodes = (await tenant.graph(None, 2, 200)).nodes
    types = {n["properties"].get("entity_type") for n in nodes}
    assert {"table", "equation", "drawing"} <= types
    assert "Brightwater Mills" in {n["id"] for n in nodes}

    for query, marker in (
        ("Tonnes of flour output by year", TABLE_MARKER),
        ("alpha K beta L equation", EQUATION_MARKER),
        ("Brightwater Mills waterwheel figure", IMAGE_MARKER),
    ):
        found = await tenant.retrieve(Question(query, mode="naive"))
        assert marker in found.context, query
        assert (found.references[0].doc_id, found.references[0].name) == ("doc-m", "mills.pdf")
    answer = await tenant.answer(Question("What did Brightwater Mills produce in 2023?"))
    assert {(r.doc_id, r.name) for r in answer.references} == {("doc-m", "mills.pdf")}


async def test_without_llm_content_is_chunked_and_embedded_only(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for(llm=False, vlm=_vlm(fake)))
    report = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    assert (report.entities, report.llm, report.warnings) == (0, False, ())
    assert report.chunks >= 1
    found = await tenant.retrieve(Question("Brightwater Mills waterwheel", mode="naive"))
    assert "Figure 2: the Brightwater Mills waterwheel" in found.context
    assert "<th>Tonnes of flour</th>" in found.context
    assert (found.references[0].doc_id, found.references[0].name) == ("doc-m", "mills.pdf")
    assert fake.requests == []


async def test_without_vlm_images_are_not_analysed(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    assert [len(fake.analysis_requests(k)) for k in ("table", "equation", "image")] == [1, 1, 0]
    found = await tenant.retrieve(Question("Brightwater Mills waterwheel figure", mode="naive"))
    assert "Figure 2: the Brightwater Mills waterwheel" in found.context
    assert IMAGE_MARKER not in found.context


async def test_a_malformed_analysis_answer_falls_back_to_no_analysis(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    fake.configure(malformed_analysis=("table",))
    tenant = await registry.get(tenant_for(vlm=_vlm(fake)))
    report = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    [warning] = report.warnings
    assert "multimodal analysis failed" in warning
    assert "table/" in warning
    assert len(fake.analysis_requests("table")) == 2  # LightRAG asks once more, then fails
    assert report.chunks >= 1
    assert report.entities >= 1  # the text's graph is still extracted

    found = await tenant.retrieve(Question("Brightwater Mills output by year", mode="naive"))
    assert "<td>1875</td>" in found.context
    assert TABLE_MARKER not in found.context
    assert found.references[0].doc_id == "doc-m"
    types = {n["properties"].get("entity_type") for n in (await tenant.graph(None, 2, 200)).nodes}
    assert not types & {"table", "equation", "drawing"}


async def test_a_redelivered_document_is_not_indexed_twice(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for(vlm=_vlm(fake)))
    first = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    calls = len(fake.requests)
    again = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    assert again == first
    assert len(fake.requests) == calls
    assert isinstance(tenant, LightRagTenant)
    documents = await tenant.rag.doc_status.get_docs_by_track_id(track_id("doc-m"))
    assert len(documents) == 1


async def test_nothing_staged_stays_on_disk_and_delete_removes_the_document(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider, data_dir: Path
) -> None:
    tenant = await registry.get(tenant_for(vlm=_vlm(fake)))
    await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
    await tenant.insert_content(
        "doc-n", "notes.pdf", [{"type": "text", "text": "Kelvin Falcon."}], {}
    )
    assert isinstance(tenant, LightRagTenant)
    # The bundles and what the parser derived from them went with their runs.
    assert staged_files(data_dir) == []
    assert "INPUT_DIR" not in os.environ

    await tenant.delete("doc-m")
    assert await tenant.rag.doc_status.get_docs_by_track_id(track_id("doc-m")) == {}
    found = await tenant.retrieve(Question("Brightwater Mills waterwheel", mode="naive"))
    assert {r.doc_id for r in found.references} <= {"doc-n"}
    nodes = {n["id"] for n in (await tenant.graph(None, 2, 200)).nodes}
    assert "Brightwater Mills" not in nodes
    assert "Kelvin Falcon" in nodes


async def test_a_failing_vlm_fails_the_document_for_a_retry_with_analysis(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    async with FakeProvider() as vlm:
        # One call's attempts (the client retries 3 times): less than the breaker's threshold.
        vlm.configure(fail_next=4, fail_statuses=(500,))
        tenant = await registry.get(tenant_for(vlm={"base_url": vlm.base_url, "model": "v"}))
        with pytest.raises(RagapiError, match="VLM call failed"):
            await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
        # Not indexed without analysis behind the job's back: the document stays
        # failed (nothing extracted) ...
        assert isinstance(tenant, LightRagTenant)
        [status] = (await tenant.rag.doc_status.get_docs_by_track_id(track_id("doc-m"))).values()
        assert status.status == "failed"
        prompts = [str(r["json"]["messages"]) for r in fake.requests_to(CHAT)]
        assert not [p for p in prompts if "---Input Text---" in p]

        # ... and the redelivered job replaces it, this time with the image analysed.
        report = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, ASSETS)
        assert report.warnings == ()
        assert len(vlm.analysis_requests("image")) == 5  # 4 failed attempts, then one answer
        documents = await tenant.rag.doc_status.get_docs_by_track_id(track_id("doc-m"))
        assert [d.status for d in documents.values()] == ["processed"]
        found = await tenant.retrieve(Question("Brightwater Mills waterwheel figure", mode="naive"))
        assert IMAGE_MARKER in found.context


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("mills.pdf", "mills.pdf"),
        ("a (draft).pdf", "a (draft).pdf"),
        ("../etc/passwd", "etcpasswd"),
        ("scan.[native-iet].pdf", "scan.(native-iet).pdf"),
        ("报告" * 100 + ".pdf", "报告" * 20),
    ],
)
def test_file_names_are_safe_and_map_back_to_the_document(name: str, shown: str) -> None:
    packed = file_name("doc_123", name)
    assert "/" not in packed
    assert len(packed.encode()) < 160
    assert split_source(packed) == ("doc_123", shown)
    assert lightrag_id(packed).startswith("doc-")
    assert lightrag_id(packed) != lightrag_id(file_name("doc_124", name))

"""OCR content lists: tables, equations and images become searchable text and graph nodes."""

from __future__ import annotations

from typing import Any

from ragapi_common.rag.api import Question
from ragapi_common.rag.content import render
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.support.fake_answers import IMAGE_MARKER
from tests.support.fake_provider import CHAT, FakeProvider

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e5273ea80000000049454e44ae426082"
)
ITEMS: list[dict[str, Any]] = [
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
        "img_path": "pages/1/img-0.png",
        "image_caption": ["Figure 2: the Brightwater Mills waterwheel"],
        "page_idx": 1,
    },
]


def test_items_render_as_labelled_blocks() -> None:
    text = render(ITEMS)
    assert "[Table (page 1)] Table 1: Brightwater Mills output by year" in text
    assert "| 2023 | 1875 |" in text
    assert "[Equation (page 2)]" in text
    assert r"$$\nY_{t} = \alpha K_{t} + \beta L_{t}\n$$".replace(r"\n", "\n") in text
    assert "[Image (page 2)] Figure 2: the Brightwater Mills waterwheel" in text


async def test_tables_and_equations_are_retrieved_and_become_graph_nodes(
    registry: Registry, tenant_for: TenantFor
) -> None:
    tenant = await registry.get(tenant_for())
    report = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, {})
    assert report.chunks >= 1
    assert report.entities >= 1

    table = await tenant.retrieve(Question("Tonnes of flour in 2023", mode="mix"))
    assert table.references[0].doc_id == "doc-m"
    assert "| 2023 | 1875 |" in table.context
    equation = await tenant.retrieve(Question(r"alpha K_{t} + beta L_{t}", mode="naive"))
    assert r"\alpha K_{t}" in equation.context
    assert "Brightwater Mills" in {n["id"] for n in (await tenant.graph(None, 2, 100)).nodes}


async def test_images_are_described_by_the_tenant_vlm(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    vlm = {"base_url": fake.base_url, "model": "fake-vlm"}
    tenant = await registry.get(tenant_for(vlm=vlm))
    await tenant.insert_content("doc-m", "mills.pdf", ITEMS, {"pages/1/img-0.png": PNG})
    [vision] = [
        r for r in fake.requests_to(CHAT) if r["json"]["model"] == "fake-vlm"
    ]  # one image, one VLM call
    parts = vision["json"]["messages"][0]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    found = await tenant.retrieve(Question("Brightwater Mills waterwheel figure", mode="naive"))
    assert IMAGE_MARKER in found.context


async def test_without_llm_or_vlm_content_is_still_searchable(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for(llm=False))
    report = await tenant.insert_content("doc-m", "mills.pdf", ITEMS, {"pages/1/img-0.png": PNG})
    assert (report.entities, report.llm) == (0, False)
    found = await tenant.retrieve(Question("waterwheel", mode="naive"))
    assert "Figure 2: the Brightwater Mills waterwheel" in found.context
    assert fake.requests == []

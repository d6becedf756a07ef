"""The deepseek engine against a fake vLLM (a real HTTP server).

Request shape, markup stripping, retries, timeouts, the breaker.
"""

from __future__ import annotations

from typing import Any

import httpx

from ragapi_ocr import grounding
from tests.conftest import TenantFactory
from tests.ocr import documents as docs
from tests.ocr.fake_vllm import FakeVllm
from tests.ocr.textmetrics import cer
from tests.support.apps import TenantHandle
from tests.support.fake_provider import CHAT

MODEL = "deepseek-ai/DeepSeek-OCR"


async def deepseek_tenant(
    tenant_factory: TenantFactory, vllm: FakeVllm, engine: str = "deepseek", **ocr: Any
) -> TenantHandle:
    endpoint = {"base_url": vllm.base_url, "model": MODEL, "api_key": "sk-ocr"}
    return await tenant_factory(config={"ocr": {"engine": engine, **endpoint, **ocr}})


async def post_scan(
    ocr: httpx.AsyncClient, tenant: TenantHandle, pages: int = 1, **form: str
) -> httpx.Response:
    data, _ = docs.scanned_pdf() if pages == 1 else docs.text_pdf(pages=pages)
    return await ocr.post(
        "/v1/ocr", headers=tenant.headers, files={"file": ("scan.pdf", data)}, data=form
    )


async def fallback_pages(ocr: httpx.AsyncClient) -> float:
    for line in (await ocr.get("/metrics")).text.splitlines():
        if line.startswith("ragapi_ocr_fallback_pages_total "):
            return float(line.split()[1])
    raise AssertionError("no fallback counter")


async def test_pages_go_to_vllm_and_markup_is_stripped(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, vllm: FakeVllm
) -> None:
    tenant = await deepseek_tenant(tenant_factory, vllm)
    response = await post_scan(ocr, tenant, pages=2)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["engine"] == "deepseek"
    assert result["pages"] == 2
    # One request per page, each with the shape the fake insists on, and the key.
    calls = vllm.requests_to(CHAT)
    assert len(calls) == 2
    assert calls[0]["json"]["model"] == MODEL
    assert calls[0]["json"]["max_tokens"] == 4096
    assert calls[0]["headers"]["authorization"] == "Bearer sk-ocr"
    markdown = result["markdown"]
    for markup in ("<|ref|>", "<|det|>", "[[100", "end▁of▁sentence", "<|grounding|>"):
        assert markup not in markdown
    assert markdown.startswith("# Annual Report 2026")
    page0 = [item for item in result["content"] if item["page_idx"] == 0]
    assert [item["type"] for item in page0] == ["text", "text", "table", "image", "equation"]
    title, text, table, image, equation = page0
    assert title["text"] == "Annual Report 2026"
    assert title["text_level"] == 1
    # DeepSeek's 0-999 grid on the content list's 0-1000 scale (content.BBOX_SCALE).
    assert title["bbox"] == [round(v * 1000 / 999) for v in (100, 40, 900, 90)]
    assert text["text"] == "Revenue grew by 12 percent in the northern region."
    assert table["table_body"].startswith("<table><tr><td>Region</td>")
    assert table["table_caption"] == ["Table 1: Revenue by region"]
    assert image["image_caption"] == ["Figure 1: Sales chart"]
    assert image["bbox"] == [100, 651, 501, 951]
    assert equation["latex"] == "E = m c^2"


async def test_form_field_overrides_tenant_engine(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, vllm: FakeVllm
) -> None:
    tenant = await deepseek_tenant(tenant_factory, vllm, engine="local")
    local = await post_scan(ocr, tenant)
    assert local.json()["engine"] == "local"
    assert not vllm.requests
    chosen = await post_scan(ocr, tenant, engine="deepseek")
    assert chosen.json()["engine"] == "deepseek"
    assert len(vllm.requests) == 1


async def test_429_and_500_are_retried(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, vllm: FakeVllm
) -> None:
    tenant = await deepseek_tenant(tenant_factory, vllm)
    vllm.configure(fail_next=2, fail_statuses=(429, 500), retry_after_s=0.2)
    response = await post_scan(ocr, tenant)
    assert response.status_code == 200, response.text
    times = [call["time"] for call in vllm.requests_to(CHAT)]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.2  # Retry-After honoured
    assert "<|ref|>" not in response.json()["markdown"]


async def test_timeout_answers_503(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, vllm: FakeVllm
) -> None:
    tenant = await deepseek_tenant(tenant_factory, vllm)
    vllm.configure(latency_s=10)
    response = await post_scan(ocr, tenant)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "dependency_unavailable"
    assert "DeepSeek-OCR" in error["message"]
    assert "retry-after" in response.headers


async def test_breaker_opens_then_fails_fast(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, vllm: FakeVllm
) -> None:
    tenant = await deepseek_tenant(tenant_factory, vllm)
    vllm.configure(fail_forever=True, fail_statuses=(500,))
    for _ in range(2):  # threshold 2: each call fails after its retries
        failed = await post_scan(ocr, tenant)
        assert failed.status_code == 503
    attempts = len(vllm.requests)
    assert attempts == 6  # 2 calls x (1 + 2 retries)
    fast = await post_scan(ocr, tenant)
    assert fast.status_code == 503
    assert fast.json()["error"]["code"] == "circuit_open"
    assert len(vllm.requests) == attempts  # nothing reached the endpoint
    ready = (await ocr.get("/readyz")).json()
    assert ready["checks"]["deepseek"]["breakers"][vllm.base_url] == "open"
    metrics = (await ocr.get("/metrics")).text
    assert f'ragapi_model_breaker_state{{endpoint="{vllm.base_url}"}} 2.0' in metrics
    # Local OCR is unaffected.
    local = await post_scan(ocr, tenant, engine="local")
    assert local.status_code == 200


async def test_pages_the_model_cannot_read_fall_back_to_local_when_allowed(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, vllm: FakeVllm
) -> None:
    tenant = await deepseek_tenant(tenant_factory, vllm, fallback=True)
    before = await fallback_pages(ocr)
    vllm.configure(latency_s=10)  # past the 3 s page deadline
    data, truth = docs.scanned_pdf()
    response = await ocr.post("/v1/ocr", headers=tenant.headers, files={"file": ("scan.pdf", data)})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["engine"] == "deepseek"
    (warning,) = result["warnings"]
    assert warning.startswith("page 1 read by the local engine:"), warning
    assert "DeepSeek-OCR" in warning
    assert cer("\n".join(truth), result["markdown"]) < 0.1  # the local engine's reading
    vllm.configure(latency_s=0, fail_forever=True, fail_statuses=(500,))
    for _ in range(3):  # then the breaker opens; pages still come back, from the fallback
        failed = await post_scan(ocr, tenant)
        assert failed.status_code == 200, failed.text
        assert "read by the local engine" in failed.json()["warnings"][0]
    assert "failed repeatedly" in failed.json()["warnings"][0]  # the open breaker's words
    assert await fallback_pages(ocr) - before == 4


async def test_fallback_is_off_unless_the_tenant_allows_it(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory, vllm: FakeVllm
) -> None:
    tenant = await deepseek_tenant(tenant_factory, vllm, fallback=False)
    vllm.configure(fail_forever=True, fail_statuses=(500,))
    response = await post_scan(ocr, tenant)
    assert response.status_code == 503
    assert "warnings" not in response.json()


async def test_request_with_the_wrong_shape_is_refused_by_the_fake(vllm: FakeVllm) -> None:
    """The fake really checks: a plain chat request is a 400, so passing tests mean something."""
    async with httpx.AsyncClient() as client:
        body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        response = await client.post(vllm.base_url + "/chat/completions", json=body)
    assert response.status_code == 400


def test_grounding_parser_edge_cases() -> None:
    answer = (
        "Loose intro text\n"
        "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4], [5, 6, 7, 8]]<|/det|>\nTwo boxes\n"
        "<|ref|>sub_title<|/ref|><|det|>[[0,0,999,999]]<|/det|>\n## Section 2\n"
        "<|ref|>image_caption<|/ref|><|det|>[[1,1,2,2]]<|/det|>\nOrphan caption\n"
        "<|ref|>weird_label<|/ref|><|det|>not boxes<|/det|>\nStill text"
        "<\uff5cend\u2581of\u2581sentence\uff5c>"
    )
    page = grounding.parse_page(answer, 3)
    assert [(i["type"], i.get("text")) for i in page.items] == [
        ("text", "Loose intro text"),
        ("text", "Two boxes"),
        ("text", "Section 2"),
        ("text", "Orphan caption"),
        ("text", "Still text"),
    ]
    assert page.items[1]["bbox"] == [1, 2, 3, 4]
    assert page.items[2]["text_level"] == 2
    assert all(item["page_idx"] == 3 for item in page.items)
    assert grounding.strip(answer).endswith("Still text")
    assert "<|" not in grounding.strip(answer)

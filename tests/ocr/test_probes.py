"""Probes, metrics and OpenAPI of the OCR service."""

from __future__ import annotations

import re

import httpx

from tests.conftest import TenantFactory
from tests.ocr import documents as docs


def sample(metrics: str, name: str) -> float:
    """The value of one sample line (``name`` includes its labels)."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_pages_latency_and_errors(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    before = (await ocr.get("/metrics")).text
    data, _ = docs.text_pdf(pages=2)
    assert (
        await ocr.post("/v1/ocr", headers=tenant.headers, files={"file": ("a.pdf", data)})
    ).status_code == 200
    bad = await ocr.post(
        "/v1/ocr", headers=tenant.headers, files={"file": ("b.pdf", docs.encrypted_pdf())}
    )
    assert bad.status_code == 422
    after = (await ocr.get("/metrics")).text
    pages = 'ragapi_ocr_pages_total{engine="local",path="text"}'
    assert sample(after, pages) - sample(before, pages) == 2
    count = 'ragapi_ocr_page_duration_seconds_count{engine="local"}'
    assert sample(after, count) - sample(before, count) == 2
    errors = 'ragapi_ocr_errors_total{kind="encrypted"}'
    assert sample(after, errors) - sample(before, errors) == 1
    assert "ragapi_ocr_queue_depth " in after
    assert "ragapi_event_loop_lag_seconds " in after


async def test_ready_and_openapi(ocr: httpx.AsyncClient) -> None:
    ready = await ocr.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["nats"]["ok"]
    assert checks["redis"]["ok"]
    assert "breakers" in checks["deepseek"]
    spec = (await ocr.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/ocr"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"200", "400", "401", "413", "415", "422"} <= set(operation["responses"])

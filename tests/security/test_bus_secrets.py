"""Nothing secret travels the bus in clear: a subscriber on ``>`` during a whole ingest (text
and a scanned PDF read by the DeepSeek engine), an OCR call, a query, a deletion and a
tenant's purge sees neither the tenant's API key nor any provider secret of its config; no
log line or span carries one; and every provider still gets its own key."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ragapi_common import tracing
from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.secrets import hash_api_key
from tests.ocr import documents as docs
from tests.ocr.fake_vllm import FakeVllm
from tests.security.conftest import SPY, SecureNats
from tests.security.spy import Capture, capturing_logs, spying
from tests.security.stack import Services, four_services
from tests.support.fake_provider import FakeProvider

SECTIONS = ("llm", "embedding", "rerank", "vlm", "ocr")
TENANT = "secretive"


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def vllm() -> AsyncIterator[FakeVllm]:
    async with FakeVllm() as server:
        yield server


def provider_secrets() -> dict[str, str]:
    """One recognisable secret per config section."""
    return {section: f"sk-{section}-{secrets.token_hex(12)}" for section in SECTIONS}


def tenant_config(fake: FakeProvider, vllm: FakeVllm, keys: dict[str, str]) -> dict[str, Any]:
    def endpoint(section: str, model: str, url: str = fake.base_url) -> dict[str, Any]:
        return {"base_url": url, "model": model, "api_key": keys[section]}

    return {
        "llm": endpoint("llm", "fake-llm"),
        "embedding": {**endpoint("embedding", "fake-embedding"), "dim": 64},
        "rerank": endpoint("rerank", "fake-rerank"),
        "vlm": endpoint("vlm", "fake-vlm"),
        "ocr": {**endpoint("ocr", "deepseek-ai/DeepSeek-OCR", vllm.base_url), "engine": "deepseek"},
    }


async def wait_task(ingest: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> Any:
    async with asyncio.timeout(240):  # harness deadline: LightRAG on a busy 2-core machine
        while True:
            answer = await ingest.get(f"/v1/tasks/{task_id}", headers=headers)
            assert answer.status_code == 200, answer.text
            if answer.json()["status"] in ("succeeded", "failed", "partial"):
                return answer.json()
            await asyncio.sleep(0.1)


def assert_nothing_secret(capture: Capture, api_key: str, keys: dict[str, str]) -> None:
    # The capture saw the traffic the secrets used to travel in.
    assert capture.on("ragapi.tenants.resolve"), "no tenants.resolve request was seen"
    assert capture.on("ragapi.tenants.get"), "no tenants.get request was seen"
    assert capture.on("ragapi.jobs.ocr")
    assert capture.on("ragapi.jobs.index")
    leaks = {
        name: capture.containing(value) for name, value in {"api_key": api_key, **keys}.items()
    }
    assert not {name: subjects for name, subjects in leaks.items() if subjects}, leaks
    # Resolution travels as the key's hash only.
    assert any(
        hash_api_key(api_key).encode() in data for data in capture.on("ragapi.tenants.resolve")
    )


async def whole_flow(services: Services, files: Bus, config: dict[str, Any]) -> str:
    """Create a tenant, ingest a text and a scan, OCR, query, delete a document, delete the
    tenant and wait for its purge; the tenant's API key."""
    created = await services.tenants.post("/v1/tenants", json={"id": TENANT, "config": config})
    assert created.status_code == 201, created.text
    api_key: str = created.json()["api_key"]
    headers = {"authorization": f"Bearer {api_key}"}

    scan, _ = docs.scanned_pdf()
    text = ("notes.md", b"# Notes\n\nThe quarterly invoice 4711 was paid by ACME in full.")
    upload = await services.ingest.post(
        "/v1/documents", files=[("files", ("scan.pdf", scan)), ("files", text)], headers=headers
    )
    assert upload.status_code == 202, upload.text
    task = await wait_task(services.ingest, headers, upload.json()["task_id"])
    assert task["status"] == "succeeded", task

    ocr = await services.ocr.post("/v1/ocr", files={"file": ("scan.pdf", scan)}, headers=headers)
    assert ocr.status_code == 200, ocr.text
    query = await services.query.post(
        "/v1/query", json={"query": "Who paid invoice 4711?"}, headers=headers
    )
    assert query.status_code == 200, query.text

    notes = next(doc["doc_id"] for doc in task["documents"] if doc["name"] == "notes.md")
    deleted = await services.ingest.delete(f"/v1/documents/{notes}", headers=headers)
    assert deleted.status_code == 202, deleted.text
    removal = await wait_task(services.ingest, headers, deleted.json()["task_id"])
    assert removal["status"] == "succeeded", removal

    assert (await services.tenants.delete(f"/v1/tenants/{TENANT}")).status_code == 202
    async with asyncio.timeout(60):  # harness deadline
        while True:
            if not await files.files.names(prefix=f"{TENANT}/"):
                return api_key
            await asyncio.sleep(0.1)


@pytest.fixture
async def spans(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[InMemorySpanExporter]:
    """Tracing on (so trace headers travel the bus too), spans kept in memory."""
    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)
    exporter = InMemorySpanExporter()
    assert tracing.configure("security-test", exporter=exporter)
    yield exporter
    await asyncio.to_thread(tracing.shutdown)


def span_texts(exporter: InMemorySpanExporter) -> list[str]:
    """Every span as text: name, attributes, events, status."""
    return [
        f"{span.name} {dict(span.attributes or {})} {span.status.description} "
        + " ".join(f"{event.name} {dict(event.attributes or {})}" for event in span.events)
        for span in exporter.get_finished_spans()
    ]


async def test_no_secret_on_the_bus_in_logs_or_in_traces(
    common_settings: dict[str, Any],
    secure_nats: SecureNats,
    redis: object,
    fake: FakeProvider,
    vllm: FakeVllm,
    spans: InMemorySpanExporter,
) -> None:
    """A subscriber on ``>`` sees neither the tenant's key nor a provider secret, and no log
    record (at DEBUG) or span carries one either. Each service is on its own NATS user: the
    whole flow also needs no subject beyond its permissions (the server refused nothing)."""
    keys = provider_secrets()
    refused_before = len(secure_nats.violations())
    async with (
        four_services(
            lambda service: {**common_settings, **secure_nats.settings(service)}
        ) as services,
        spying(secure_nats.url, **secure_nats.auth(SPY)) as capture,
    ):
        files = await Bus.connect(secure_nats.url, name="files", **secure_nats.auth(SPY))
        try:
            with capturing_logs("lightrag") as logs:
                api_key = await whole_flow(services, files, tenant_config(fake, vllm, keys))
        finally:
            await files.close()

    assert secure_nats.violations()[refused_before:] == []
    assert_nothing_secret(capture, api_key, keys)
    assert capture.on(subjects.JOB_DELETE)
    assert capture.on(subjects.JOB_PURGE)
    assert any("traceparent" in headers for _, _, headers in capture.messages)

    assert await asyncio.to_thread(tracing.flush, 10)
    traced = span_texts(spans)
    assert any("ragapi.tenant_id" in text for text in traced)
    assert len(logs.texts) > 100  # DEBUG records of every part were seen
    for name, secret in {"api_key": api_key, **keys}.items():
        assert logs.containing(secret) == [], name
        assert [text for text in traced if secret in text] == [], name

    # ... and every provider got its own key (all five were called), opened where it is used.
    models = {"fake-llm": "llm", "fake-vlm": "vlm", "fake-embedding": "embedding"}
    models |= {"fake-rerank": "rerank"}
    seen = {(r["json"].get("model"), r["headers"].get("authorization")) for r in fake.requests}
    assert seen == {(model, f"Bearer {keys[section]}") for model, section in models.items()}
    assert {r["headers"].get("authorization") for r in vllm.requests} == {f"Bearer {keys['ocr']}"}

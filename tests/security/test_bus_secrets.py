"""Nothing secret travels the bus in clear: a subscriber on ``>`` during a whole ingest (text
and a scanned PDF read by the DeepSeek engine), an OCR call and a query sees neither the
tenant's API key nor any provider secret of its config, while every provider still gets
its own key."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ragapi_common.secrets import hash_api_key
from tests.ocr import documents as docs
from tests.ocr.fake_vllm import FakeVllm
from tests.security.spy import Capture, spying
from tests.security.stack import four_services
from tests.support.fake_provider import CHAT, EMBEDDINGS, FakeProvider

SECTIONS = ("llm", "embedding", "rerank", "vlm", "ocr")


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


async def test_a_subscriber_on_everything_sees_no_secret(
    common_settings: dict[str, Any], redis: object, fake: FakeProvider, vllm: FakeVllm
) -> None:
    keys = provider_secrets()
    async with (
        four_services(lambda service: common_settings) as services,
        spying(common_settings["nats_url"]) as capture,
    ):
        body = {"id": "secretive", "config": tenant_config(fake, vllm, keys)}
        created = await services.tenants.post("/v1/tenants", json=body)
        assert created.status_code == 201, created.text
        api_key = created.json()["api_key"]
        headers = {"authorization": f"Bearer {api_key}"}

        scan, _ = docs.scanned_pdf()
        text = ("notes.md", b"# Notes\n\nThe quarterly invoice 4711 was paid by ACME in full.")
        upload = await services.ingest.post(
            "/v1/documents", files=[("files", ("scan.pdf", scan)), ("files", text)], headers=headers
        )
        assert upload.status_code == 202, upload.text
        task = await wait_task(services.ingest, headers, upload.json()["task_id"])
        assert task["status"] == "succeeded", task

        ocr = await services.ocr.post(
            "/v1/ocr", files={"file": ("scan.pdf", scan)}, headers=headers
        )
        assert ocr.status_code == 200, ocr.text
        query = await services.query.post(
            "/v1/query", json={"query": "Who paid invoice 4711?"}, headers=headers
        )
        assert query.status_code == 200, query.text

    assert_nothing_secret(capture, api_key, keys)
    # ... and each provider still got its own key, opened where it is called.
    assert fake.requests_to(CHAT)[0]["headers"]["authorization"] == f"Bearer {keys['llm']}"
    assert (
        fake.requests_to(EMBEDDINGS)[0]["headers"]["authorization"] == f"Bearer {keys['embedding']}"
    )
    assert vllm.requests_to(CHAT)[0]["headers"]["authorization"] == f"Bearer {keys['ocr']}"

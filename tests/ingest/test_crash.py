"""SIGKILL ``ragapi up`` while it indexes a document; the restart finishes it once."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiofiles
import httpx
import pytest
from redis.asyncio import Redis

from tests.cli.stack import cli_env
from tests.support.apps import ADMIN_TOKEN, SECRET_KEY
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.servers import free_port

from .pipeline import eventually

pytestmark = pytest.mark.slow

WORDS = "Larkspur Mill grinds grain for Ferndale Village while Copper Ridge Mine ships ore."


def long_text(sentences: int) -> str:
    return " ".join(f"{WORDS} Entry {i} of the Ferndale ledger." for i in range(sentences))


@asynccontextmanager
async def ragapi_up(
    data_dir: Path, port: int, env: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``ragapi up`` as a child process, ready; SIGTERM on exit unless already dead."""
    log_path = data_dir.parent / "up.log"
    async with aiofiles.open(log_path, "ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ragapi_cli", "up", "--port", str(port),
            "--data-dir", str(data_dir), stdout=asyncio.subprocess.DEVNULL,
            stderr=log.fileno(), env=cli_env(**env),
        )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"ragapi up exited: {process.returncode}")
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout_s=120)
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


def up_env(nats_url: str, redis_url: str, fake: FakeProvider) -> dict[str, str]:
    """``ragapi up`` on the test's servers and fake models, quick to take back a lost job."""
    return {
        "RAGAPI_NATS_URL": nats_url,
        "RAGAPI_REDIS_URL": redis_url,
        "RAGAPI_ADMIN_TOKEN": ADMIN_TOKEN,
        "RAGAPI_SECRET_KEY": SECRET_KEY,
        "RAGAPI_LLM_BASE_URL": fake.base_url,
        "RAGAPI_LLM_MODEL": "fake-llm",
        "RAGAPI_LLM_API_KEY": "sk-fake",
        "RAGAPI_EMBEDDING_BASE_URL": fake.base_url,
        "RAGAPI_EMBEDDING_MODEL": "fake-embedding",
        "RAGAPI_EMBEDDING_DIM": "64",
        # A killed process's job comes back after the ack wait; its lease expires.
        "RAGAPI_INDEX_ACK_WAIT_S": "4",
        "RAGAPI_TENANT_LOCK_TTL_S": "3",
    }


async def _chunks_of(data_dir: Path, tenant_id: str, doc_id: str) -> int:
    path = data_dir / "tenants" / tenant_id / "kv_store_text_chunks.json"
    async with aiofiles.open(path) as source:
        chunks: dict[str, Any] = json.loads(await source.read())
    return sum(1 for chunk in chunks.values() if chunk.get("full_doc_id") == doc_id)


async def _doc(client: httpx.AsyncClient, key: str, doc_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/documents/{doc_id}", headers={"authorization": f"Bearer {key}"})
    body: dict[str, Any] = answer.json()
    return body


async def test_sigkill_mid_document_then_restart_finishes_it_once(
    tmp_path: Path, nats_url: str, redis_url: str, redis: Redis
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    async with FakeProvider() as fake:
        fake.configure(latency_s=0.3, paths=(CHAT,))
        env = up_env(nats_url, redis_url, fake)
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        text = long_text(120)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            async with ragapi_up(data_dir, port, env) as process:
                created = await client.post(
                    "/v1/tenants", json={"id": "crashy", "name": "crashy"}, headers=admin
                )
                key = created.json()["api_key"]
                headers = {"authorization": f"Bearer {key}"}
                body = {"documents": [{"name": "ledger.txt", "text": text}]}
                accepted = await client.post("/v1/documents/text", json=body, headers=headers)
                doc_id = accepted.json()["documents"][0]["doc_id"]

                async def extracting() -> bool:
                    doc = await _doc(client, key, doc_id)
                    return doc["status"] == "indexing" and len(fake.requests_to(CHAT)) >= 2

                await eventually(extracting, timeout_s=60)
                process.kill()  # SIGKILL: no shutdown, no hand-back
                await process.wait()
            status = await redis.hget(f"ragapi:ingest:{{crashy}}:doc:{doc_id}", "status")
            assert status == b"indexing"

            async with ragapi_up(data_dir, port, env):

                async def finished() -> dict[str, Any] | None:
                    doc = await _doc(client, key, doc_id)
                    return doc if doc["status"] in ("processed", "failed") else None

                doc = await eventually(finished, timeout_s=180)
                assert doc["status"] == "processed", doc
                # A clean run of the same text, in another tenant of the same stack.
                created = await client.post(
                    "/v1/tenants", json={"id": "clean", "name": "clean"}, headers=admin
                )
                clean_key = created.json()["api_key"]
                accepted = await client.post(
                    "/v1/documents/text",
                    json=body,
                    headers={"authorization": f"Bearer {clean_key}"},
                )
                clean_id = accepted.json()["documents"][0]["doc_id"]

                async def clean_finished() -> dict[str, Any] | None:
                    got = await _doc(client, clean_key, clean_id)
                    return got if got["status"] in ("processed", "failed") else None

                clean = await eventually(clean_finished, timeout_s=180)
        assert clean["status"] == "processed"
        assert doc["chunks"] == clean["chunks"] > 1
        stored = await _chunks_of(data_dir, "crashy", doc_id)
        assert stored == await _chunks_of(data_dir, "clean", clean_id) == clean["chunks"]

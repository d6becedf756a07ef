"""SIGKILL ``ragapi up`` right after documents are reported processed: they survive it.

The local profile commits its JSON storages once per batch (decision 0303); a
document is reported processed (and its job acked) only once its data and
status are on disk. So what was processed at the kill is processed on disk,
before any restart, and still listed and answerable after one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiofiles
import httpx
import pytest
from redis.asyncio import Redis

from tests.support.apps import ADMIN_TOKEN, SECRET_KEY
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.servers import free_port

from .test_crash import ragapi_up

pytestmark = pytest.mark.slow

TEXTS = {
    "mill.txt": "Larkspur Mill grinds grain for Ferndale Village on the Osk river.",
    "mine.txt": "Copper Ridge Mine ships its ore to the smelter at Brannock Quay.",
    "ferry.txt": "The Quillon ferry crosses Lake Merrow twice a day from Tallis Pier.",
    "school.txt": "Ashgrove School teaches weaving and ledger keeping to Ferndale's children.",
}


def _doc_key(tenant_id: str, doc_id: str) -> str:
    return f"ragapi:ingest:{{{tenant_id}}}:doc:{doc_id}"


async def _status_on_disk(data_dir: Path, tenant_id: str) -> dict[str, str]:
    path = data_dir / "tenants" / tenant_id / "kv_store_doc_status.json"
    async with aiofiles.open(path) as source:
        rows: dict[str, Any] = json.loads(await source.read())
    return {doc_id: row["status"] for doc_id, row in rows.items()}


async def _processed(redis: Redis, tenant_id: str, doc_ids: list[str]) -> list[str]:
    statuses = await asyncio.gather(
        *(redis.hget(_doc_key(tenant_id, doc_id), "status") for doc_id in doc_ids)
    )
    return [
        doc_id for doc_id, status in zip(doc_ids, statuses, strict=True) if status == b"processed"
    ]


async def test_documents_processed_at_a_sigkill_are_on_disk_and_answerable_after_restart(
    tmp_path: Path, nats_url: str, redis_url: str, redis: Redis
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    async with FakeProvider() as fake:
        fake.configure(latency_s=0.2, paths=(CHAT,))
        env = {
            "RAGAPI_NATS_URL": nats_url, "RAGAPI_REDIS_URL": redis_url,
            "RAGAPI_ADMIN_TOKEN": ADMIN_TOKEN, "RAGAPI_SECRET_KEY": SECRET_KEY,
            "RAGAPI_LLM_BASE_URL": fake.base_url, "RAGAPI_LLM_MODEL": "fake-llm",
            "RAGAPI_LLM_API_KEY": "sk-fake", "RAGAPI_EMBEDDING_BASE_URL": fake.base_url,
            "RAGAPI_EMBEDDING_MODEL": "fake-embedding", "RAGAPI_EMBEDDING_DIM": "64",
            "RAGAPI_INDEX_ACK_WAIT_S": "4", "RAGAPI_TENANT_LOCK_TTL_S": "3",
        }  # fmt: skip
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            async with ragapi_up(data_dir, port, env) as process:
                created = await client.post(
                    "/v1/tenants", json={"id": "durable", "name": "durable"}, headers=admin
                )
                headers = {"authorization": f"Bearer {created.json()['api_key']}"}
                body = {"documents": [{"name": n, "text": t} for n, t in TEXTS.items()]}
                accepted = await client.post("/v1/documents/text", json=body, headers=headers)
                doc_ids = [doc["doc_id"] for doc in accepted.json()["documents"]]

                # Polled tightly: the kill lands within milliseconds of the report.
                for _ in range(24_000):  # 120 s
                    if await _processed(redis, "durable", doc_ids):
                        break
                    await asyncio.sleep(0.005)
                process.kill()  # SIGKILL at once: no shutdown, no flush
                await process.wait()
            processed = await _processed(redis, "durable", doc_ids)
            on_disk = await _status_on_disk(data_dir, "durable")
            # Everything reported processed was committed before it was reported.
            assert processed
            assert all(on_disk.get(doc_id) == "processed" for doc_id in processed), on_disk

            async with ragapi_up(data_dir, port, env):
                for doc_id in processed:
                    doc = (await client.get(f"/v1/documents/{doc_id}", headers=headers)).json()
                    assert doc["status"] == "processed", doc
                    # Answerable: asked its own words, the query finds it.
                    question = {"query": TEXTS[doc["name"]], "mode": "naive", "top_k": 40}
                    answer = await client.post("/v1/query", json=question, headers=headers)
                    assert answer.status_code == 200, answer.text
                    found = {ref["doc_id"] for ref in answer.json()["references"]}
                    assert doc_id in found, answer.json()

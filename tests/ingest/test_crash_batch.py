"""SIGKILL (or SIGTERM) ``ragapi up`` 2 s after a 40-document batch was accepted; after the
restart every accepted document is processed exactly once and the task's counters add up."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiofiles
import psutil
import pytest

from tests.support.apps import ADMIN_TOKEN
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.faults import Observed, Row
from tests.support.faults import client as client_of
from tests.support.servers import free_port
from tests.support.slowness import slowness

from .pipeline import eventually
from .test_crash import ragapi_up, up_env

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BATCH = 40
#: What a client waits for any answer before it counts as a hang.
REQUEST_DEADLINE_S = 60.0


def _texts() -> list[dict[str, str]]:
    return [
        {"name": f"pier-{n}.txt", "text": f"Pier {n} of Harbour Arden moors the Ferry Lark{n}."}
        for n in range(BATCH)
    ]


async def _stored(data_dir: Path, tenant_id: str, name: str) -> dict[str, Any]:
    async with aiofiles.open(data_dir / "tenants" / tenant_id / name) as source:
        stored: dict[str, Any] = json.loads(await source.read())
    return stored


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and everything under it: no shutdown, no hand-back."""
    root = psutil.Process(pid)
    for process in [*root.children(recursive=True), root]:
        process.kill()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_stopped_two_seconds_after_a_batch_then_every_document_once(
    tmp_path: Path, nats_url: str, redis_url: str, stop: signal.Signals, reliability: Row
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    how = "SIGKILL of the whole process tree" if stop == signal.SIGKILL else "SIGTERM"
    reliability.fault = f"ragapi up stopped ({how}) 2 s after a {BATCH}-document batch"
    observed = Observed(REQUEST_DEADLINE_S * slowness())
    reliability.client_saw = observed.statuses
    tenant = f"batch-{stop.name.lower()}-{port}"  # the servers outlive one test
    async with FakeProvider() as fake:
        fake.configure(latency_s=0.3, paths=(CHAT,))
        env = up_env(nats_url, redis_url, fake)
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client_of(observed, f"http://127.0.0.1:{port}") as client:
            async with ragapi_up(data_dir, port, env) as process:
                created = await client.post(
                    "/v1/tenants", json={"id": tenant, "name": tenant}, headers=admin
                )
                headers = {"authorization": f"Bearer {created.json()['api_key']}"}
                body = {"documents": _texts()}
                accepted = await client.post("/v1/documents/text", json=body, headers=headers)
                assert accepted.status_code == 202, accepted.text
                await asyncio.sleep(2)
                before = (await client.get("/v1/documents?limit=100", headers=headers)).json()
                if stop == signal.SIGKILL:
                    _kill_tree(process.pid)
                else:
                    process.send_signal(stop)
                await process.wait()
            unfinished = [d for d in before["documents"] if d["status"] != "processed"]
            assert unfinished, "the batch ended before the kill: nothing was tested"
            task_id = accepted.json()["task_id"]
            restarted = time.monotonic()
            async with ragapi_up(data_dir, port, env):

                async def ended() -> dict[str, Any] | None:
                    task: dict[str, Any] = (
                        await client.get(f"/v1/tasks/{task_id}", headers=headers)
                    ).json()
                    return task if task["status"] not in ("queued", "running") else None

                task = await eventually(ended, timeout_s=300)
                reliability.recovery_s = round(time.monotonic() - restarted, 2)
                listed = (await client.get("/v1/documents?limit=100", headers=headers)).json()
    assert (task["status"], task["total"], task["done"], task["failed"]) == (
        "succeeded", BATCH, BATCH, 0
    ), task  # fmt: skip
    ids = [doc["doc_id"] for doc in accepted.json()["documents"]]
    assert sorted(doc["doc_id"] for doc in listed["documents"]) == sorted(ids)
    assert {doc["status"] for doc in listed["documents"]} == {"processed"}
    # Exactly once in LightRAG: one doc-status entry each, and its chunks as reported.
    statuses = await _stored(data_dir, tenant, "kv_store_doc_status.json")
    assert sorted(statuses) == sorted(ids)
    chunks = await _stored(data_dir, tenant, "kv_store_text_chunks.json")
    for doc in listed["documents"]:
        stored = [c for c in chunks.values() if c.get("full_doc_id") == doc["doc_id"]]
        assert len(stored) == doc["chunks"] == 1, doc
    reliability.accepted, reliability.lost = BATCH, 0
    reliability.notes = "recovery = restart (on the same data directory) to the batch done"
    observed.assert_clean()

"""SIGTERM while a large document indexes: the process hands the job back and exits in time.

``ragapi up`` and ``ragapi serve ingest`` run as child processes, with a fake
LLM slow enough that the document would take far longer than the grace period.
The first SIGTERM must end the process within ``RAGAPI_SHUTDOWN_GRACE_S`` (plus
a margin for a loaded machine), exit 0, without tracebacks; a second one ends
it at once. After a restart the handed-back job is redelivered and the document
ends ``processed``, exactly as a clean indexing of the same text.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiofiles
import httpx
import pytest
from redis.asyncio import Redis

from tests.cli.stack import cli_env
from tests.conftest import TenantFactory
from tests.support.apps import ADMIN_TOKEN, SECRET_KEY
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.servers import free_port

from .pipeline import eventually
from .test_crash import long_text

pytestmark = pytest.mark.slow

GRACE_S = 6.0
#: Process exit after the shutdown is over: interpreter teardown on a busy 2-core machine.
MARGIN_S = 3.0
#: Per LLM call: ~170 chunks, two calls each, 16 at a time: about a minute of indexing.
SLOW_LLM_S = 3.0
TEXT = long_text(6000)
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def service_env(fake: FakeProvider, nats_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return cli_env(
        RAGAPI_NATS_URL=nats_url, RAGAPI_REDIS_URL=redis_url,
        RAGAPI_ADMIN_TOKEN=ADMIN_TOKEN, RAGAPI_SECRET_KEY=SECRET_KEY,
        RAGAPI_LLM_BASE_URL=fake.base_url, RAGAPI_LLM_MODEL="fake-llm", RAGAPI_LLM_API_KEY="sk-f",
        RAGAPI_EMBEDDING_BASE_URL=fake.base_url, RAGAPI_EMBEDDING_MODEL="fake-embedding",
        RAGAPI_EMBEDDING_DIM="64", **{"RAGAPI_SHUTDOWN_GRACE_S": str(GRACE_S), **extra},
    )  # fmt: skip


@dataclass
class Child:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    async def stop(self, *, second_after_s: float | None = None) -> tuple[int, float, float]:
        """SIGTERM (and another after ``second_after_s``): exit code, seconds to exit after
        the first signal and after the last one."""
        loop = asyncio.get_running_loop()
        self.process.send_signal(signal.SIGTERM)
        first = last = loop.time()
        if second_after_s is not None:
            done, _ = await asyncio.wait(
                {asyncio.ensure_future(self.process.wait())}, timeout=second_after_s
            )
            assert not done, "the first SIGTERM did not wait for the job"
            self.process.send_signal(signal.SIGTERM)
            last = loop.time()
        try:
            code = await asyncio.wait_for(self.process.wait(), 60)
        finally:
            if self.process.returncode is None:
                self.process.kill()
        return code, loop.time() - first, loop.time() - last

    async def output(self) -> str:
        async with aiofiles.open(self.log) as source:
            return await source.read()


@asynccontextmanager
async def cli(args: list[str], env: dict[str, str], log: Path) -> AsyncIterator[Child]:
    """``ragapi ARGS`` as a child process, ready; killed if the test leaves it running."""
    port = free_port()
    async with aiofiles.open(log, "wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ragapi_cli", *args, "--port", str(port),
            stdout=sink.fileno(), stderr=sink.fileno(), env=env,
        )  # fmt: skip
    child = Child(process, f"http://127.0.0.1:{port}", log)
    try:
        async with httpx.AsyncClient(base_url=child.url) as client:

            async def ready() -> bool:
                if process.returncode is not None:
                    raise AssertionError(
                        f"{args} exited {process.returncode}: {await child.output()}"
                    )
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout_s=120)
        yield child
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def assert_quiet(output: str) -> None:
    """A clean shutdown: no traceback, no retry loop on a closed connection."""
    assert "Traceback" not in output, output[-3000:]
    assert "never retrieved" not in output
    assert "connection closed" not in output


async def start_indexing(
    client: httpx.AsyncClient, url: str, key: str, fake: FakeProvider, *, wait: bool = True
) -> str:
    """Submit the large text; its id (once its LLM extraction is under way, if ``wait``)."""
    headers = {"authorization": f"Bearer {key}"}
    body = {"documents": [{"name": "ledger.txt", "text": TEXT}]}
    accepted = await client.post(f"{url}/v1/documents/text", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    doc_id: str = accepted.json()["documents"][0]["doc_id"]
    if wait:
        async with asyncio.timeout(60):
            await fake.until(lambda f: f.in_flight >= 2)
    return doc_id


async def document(client: httpx.AsyncClient, url: str, key: str, doc_id: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {key}"}
    answer = await client.get(f"{url}/v1/documents/{doc_id}", headers=headers)
    body: dict[str, Any] = answer.json()
    return body


async def indexed(client: httpx.AsyncClient, url: str, key: str, doc_id: str) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        doc = await document(client, url, key, doc_id)
        return doc if doc["status"] in ("processed", "failed") else None

    return await eventually(finished, timeout_s=240)


async def stored_chunks(data_dir: Path, tenant_id: str, doc_id: str) -> int:
    path = data_dir / "tenants" / tenant_id / "kv_store_text_chunks.json"
    async with aiofiles.open(path) as source:
        chunks: dict[str, Any] = json.loads(await source.read())
    return sum(1 for chunk in chunks.values() if chunk.get("full_doc_id") == doc_id)


async def test_sigterm_hands_the_job_back_in_time_and_the_restart_indexes_it_once(
    tmp_path: Path, nats_url: str, redis_url: str, redis: Redis
) -> None:
    data_dir = tmp_path / "data"
    async with FakeProvider() as fake, httpx.AsyncClient(timeout=60) as client:
        fake.configure(latency_s=SLOW_LLM_S, paths=(CHAT,))
        env = service_env(fake, nats_url, redis_url)
        args = ["up", "--data-dir", str(data_dir)]
        async with cli(args, env, tmp_path / "up-1.log") as up:
            created = await client.post(
                f"{up.url}/v1/tenants", json={"id": "sigterm", "name": "sigterm"}, headers=ADMIN
            )
            key = created.json()["api_key"]
            doc_id = await start_indexing(client, up.url, key, fake)
            code, took, _ = await up.stop()
        assert code == 0
        assert took < GRACE_S + MARGIN_S, took
        assert_quiet(await up.output())
        # Handed back: neither failed nor processed, and the run did not go on.
        status = await redis.hget(f"ragapi:ingest:{{sigterm}}:doc:{doc_id}", "status")
        assert status == b"indexing"

        fake.configure(latency_s=0.0)
        async with cli(args, env, tmp_path / "up-2.log") as up:
            doc = await indexed(client, up.url, key, doc_id)
            assert doc["status"] == "processed", doc
            created = await client.post(
                f"{up.url}/v1/tenants", json={"id": "clean", "name": "clean"}, headers=ADMIN
            )
            clean_key = created.json()["api_key"]
            body = {"documents": [{"name": "ledger.txt", "text": TEXT}]}
            accepted = await client.post(
                f"{up.url}/v1/documents/text", json=body,
                headers={"authorization": f"Bearer {clean_key}"},
            )  # fmt: skip
            clean_id = accepted.json()["documents"][0]["doc_id"]
            clean = await indexed(client, up.url, clean_key, clean_id)
            code, _, _ = await up.stop()
        assert code == 0
    assert clean["status"] == "processed"
    assert doc["chunks"] == clean["chunks"] > 100
    # One copy of the document's chunks: the cancelled attempt left nothing behind.
    assert await stored_chunks(data_dir, "sigterm", doc_id) == doc["chunks"]


async def test_serve_ingest_a_second_sigterm_exits_at_once_and_the_job_comes_back(
    tmp_path: Path, nats_url: str, redis_url: str, redis: Redis, tenant_factory: TenantFactory
) -> None:
    data_dir = tmp_path / "data"
    tenant = await tenant_factory()
    async with FakeProvider() as fake, httpx.AsyncClient(timeout=60) as client:
        fake.configure(latency_s=SLOW_LLM_S, paths=(CHAT,))
        # A long grace: only the second signal can make this exit quickly.
        env = service_env(
            fake, nats_url, redis_url, RAGAPI_DATA_DIR=str(data_dir),
            RAGAPI_ALLOW_SPLIT_LOCAL="1", RAGAPI_SHUTDOWN_GRACE_S="120",
        )  # fmt: skip
        async with cli(["serve", "ingest"], env, tmp_path / "ingest-1.log") as ingest:
            doc_id = await start_indexing(client, ingest.url, tenant.api_key, fake)
            code, took, after_second = await ingest.stop(second_after_s=1.0)
        assert code == 0
        assert after_second < 3.0, after_second  # with grace 120 s: only a hurry does this
        assert took < 5.0
        assert_quiet(await ingest.output())
        status = await redis.hget(f"ragapi:ingest:{{{tenant.id}}}:doc:{doc_id}", "status")
        assert status == b"indexing"

        fake.configure(latency_s=0.0)
        async with cli(["serve", "ingest"], env, tmp_path / "ingest-2.log") as ingest:
            doc = await indexed(client, ingest.url, tenant.api_key, doc_id)
            code, _, _ = await ingest.stop()
        assert code == 0
    assert doc["status"] == "processed", doc
    assert await stored_chunks(data_dir, tenant.id, doc_id) == doc["chunks"]

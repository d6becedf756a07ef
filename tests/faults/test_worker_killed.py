"""An index worker killed (SIGKILL) mid-job in the split deployment.

``ragapi serve`` runs tenants, query and two ingest processes (each with its index
workers, one durable consumer) on the postgres profile: PostgreSQL from the wheel, the
session's NATS and Redis. One ingest process is SIGKILLed while the batch is being
indexed; the jobs it held come back after the ack wait (``RAGAPI_INDEX_ACK_WAIT_S``) to
the survivor (stopped with SIGSTOP until the kill, so that the victim surely holds jobs),
and every document is processed once: one doc-status row and its chunks
as reported in PostgreSQL. (The OCR worker case is not covered here; see
docs/reliability.md.)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.cli.stack import UpProcess, cli_env
from tests.postgres.conftest import pg, postgres_dsn
from tests.support.apps import ADMIN_TOKEN, SECRET_KEY
from tests.support.fake_provider import CHAT, FakeProvider
from tests.support.faults import Observed, Row, client, exactly_once
from tests.support.slowness import slowness

from .conftest import REQUEST_DEADLINE_S, texts

__all__ = ["pg", "postgres_dsn"]  # fixtures of the postgres tests, used here too

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BATCH = 16


@contextlib.asynccontextmanager
async def serve(service: str, env: dict[str, str], root: Path) -> AsyncIterator[UpProcess]:
    """``ragapi serve <service>`` with a data directory of its own, ready."""
    up = UpProcess(root / service)
    up.data_dir.mkdir(parents=True)
    log = await asyncio.to_thread(open, root / f"{service}.log", "ab")
    try:
        up.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ragapi_cli", "serve", service.split("-")[0],
            "--port", str(up.port), stdout=log, stderr=log,
            env={**env, "RAGAPI_DATA_DIR": str(up.data_dir)},
        )  # fmt: skip
    finally:
        await asyncio.to_thread(log.close)
    try:
        await up.wait_ready()
        yield up
    finally:
        if up.process.returncode is None:
            await up.stop(grace_s=60, sig=signal.SIGTERM)


async def _stored(pg: asyncpg.Connection, workspace: str) -> tuple[dict[str, str], dict[str, int]]:
    """LightRAG's doc-status rows (id -> status) and chunks per document, in PostgreSQL."""
    statuses = await pg.fetch(
        "SELECT id, status FROM lightrag_doc_status WHERE workspace = $1", workspace
    )
    chunks = await pg.fetch(
        "SELECT full_doc_id, count(*) AS n FROM lightrag_doc_chunks WHERE workspace = $1 "
        "GROUP BY full_doc_id",
        workspace,
    )
    return {r["id"]: r["status"] for r in statuses}, {r["full_doc_id"]: r["n"] for r in chunks}


@pytest.mark.timeout(600)
async def test_index_worker_killed_mid_job(
    postgres_dsn: str, pg: asyncpg.Connection, nats_url: str, redis_url: str, tmp_path: Path,
    reliability: Row,
) -> None:  # fmt: skip
    reliability.fault = f"one of two ingest (index worker) processes SIGKILLed mid-batch of {BATCH}"
    observed = Observed(REQUEST_DEADLINE_S * slowness())
    reliability.client_saw = observed.statuses
    async with contextlib.AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeProvider())
        fake.configure(latency_s=0.5, paths=(CHAT,))
        env = cli_env(
            RAGAPI_NATS_URL=nats_url, RAGAPI_REDIS_URL=redis_url,
            RAGAPI_STORAGE_PROFILE="postgres", RAGAPI_POSTGRES_DSN=postgres_dsn,
            RAGAPI_ADMIN_TOKEN=ADMIN_TOKEN, RAGAPI_SECRET_KEY=SECRET_KEY,
            RAGAPI_LLM_BASE_URL=fake.base_url, RAGAPI_LLM_MODEL="fake-llm",
            RAGAPI_LLM_API_KEY="sk-fake", RAGAPI_EMBEDDING_BASE_URL=fake.base_url,
            RAGAPI_EMBEDDING_MODEL="fake-embedding", RAGAPI_EMBEDDING_DIM="64",
            # A killed process's jobs come back soon; its leases expire soon.
            RAGAPI_INDEX_ACK_WAIT_S="4", RAGAPI_TENANT_LOCK_TTL_S="3",
            RAGAPI_INDEX_LOCK_TTL_S="3",
        )  # fmt: skip
        names = ("tenants", "ingest-a", "ingest-b", "query")
        ups = dict(
            zip(
                names,
                await asyncio.gather(
                    *(stack.enter_async_context(serve(n, env, tmp_path)) for n in names)
                ),
                strict=True,
            )
        )
        http = await stack.enter_async_context(client(observed))
        tenant_id = f"split-{ups['tenants'].port}"  # the session's Redis outlives the test
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        created = await http.post(
            f"{ups['tenants'].url}/v1/tenants",
            json={"id": tenant_id, "name": tenant_id}, headers=admin,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        headers = {"authorization": f"Bearer {created.json()['api_key']}"}
        # Only the victim takes jobs until it dies: the survivor is stopped (SIGSTOP).
        victim, survivor = ups["ingest-a"], ups["ingest-b"]
        assert victim.process is not None
        assert survivor.process is not None
        survivor.process.send_signal(signal.SIGSTOP)
        try:
            accepted = await http.post(
                f"{victim.url}/v1/documents/text",
                json={"documents": texts("split", BATCH)}, headers=headers,
            )  # fmt: skip
            assert accepted.status_code == 202, accepted.text
            async with asyncio.timeout(120 * slowness()):
                await fake.until(lambda f: len(f.requests_to(CHAT)) >= 4 and f.in_flight > 0)
            in_flight = fake.in_flight  # LLM calls of jobs the victim holds
            victim.process.kill()
            await victim.process.wait()
        finally:
            survivor.process.send_signal(signal.SIGCONT)
        killed = time.monotonic()
        task_id = accepted.json()["task_id"]
        tasks = {task_id: [d["doc_id"] for d in accepted.json()["documents"]]}
        running = (await http.get(f"{survivor.url}/v1/tasks/{task_id}", headers=headers)).json()
        assert running["status"] == "running", "the batch ended before the kill: nothing tested"

        async with asyncio.timeout(300 * slowness()):
            while True:
                url = f"{survivor.url}/v1/tasks/{task_id}"
                task = (await http.get(url, headers=headers)).json()
                if task["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.5)
        reliability.recovery_s = round(time.monotonic() - killed, 2)
        reliability.accepted = BATCH
        reliability.lost = await exactly_once(http, survivor.url, headers, tasks, None)
        listed = (await http.get(f"{survivor.url}/v1/documents?limit=500", headers=headers)).json()
    statuses, chunks = await _stored(pg, tenant_id)
    assert sorted(statuses) == sorted(tasks[task_id]), "a doc-status row missing or extra"
    assert set(statuses.values()) == {"processed"}, statuses
    for doc in listed["documents"]:
        assert chunks.get(doc["doc_id"]) == doc["chunks"], doc
    reliability.notes = (
        f"split deployment (ragapi serve, postgres profile); {in_flight} LLM calls in flight "
        "in the victim; its jobs redelivered after the 4 s ack wait; recovery = kill to batch done"
    )
    observed.assert_clean()

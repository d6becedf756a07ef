"""``ragapi serve`` tenants, ingest and query as three processes on the postgres profile.

Each process has a data directory of its own: whatever query answers, it read
from PostgreSQL, as in the split Kubernetes deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.cli.stack import UpProcess, cli_env
from tests.postgres.test_postgres_profile import rows_of
from tests.rag.corpus import FALCON, ZORBLAX
from tests.support.fake_provider import FakeProvider

ADMIN = {"authorization": "Bearer split-admin"}


@contextlib.asynccontextmanager
async def serving(service: str, env: dict[str, str], data_dir: Path) -> AsyncIterator[str]:
    """``ragapi serve <service>`` until the block ends; yields its URL. Exits 0 on SIGTERM."""
    up = UpProcess(data_dir)
    log = await asyncio.to_thread(open, data_dir.parent / f"{service}.log", "ab")
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ragapi_cli", "serve", service, "--port", str(up.port),
            stdout=log, stderr=log, env={**env, "RAGAPI_DATA_DIR": str(data_dir)},
        )  # fmt: skip
    finally:
        await asyncio.to_thread(log.close)
    try:
        await up.wait_ready()
        yield up.url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 60)
    assert code == 0, f"{service} exited {code}"


async def until(check: Any, timeout_s: float = 90.0) -> Any:
    """Poll ``await check()`` until it answers something truthy."""
    for _ in range(int(timeout_s / 0.2)):
        if answer := await check():
            return answer
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.slow
async def test_split_services_share_the_index_through_postgres(
    nats_url: str, redis_url: str, postgres_dsn: str, fake: FakeProvider,
    tmp_path: Path, pg: asyncpg.Connection,
) -> None:  # fmt: skip
    env = cli_env(
        RAGAPI_NATS_URL=nats_url, RAGAPI_REDIS_URL=redis_url,
        RAGAPI_STORAGE_PROFILE="postgres", RAGAPI_POSTGRES_DSN=postgres_dsn,
        RAGAPI_ADMIN_TOKEN="split-admin", RAGAPI_SECRET_KEY="split-secret",
    )  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        urls = {}
        for service in ("tenants", "ingest", "query"):
            (tmp_path / service).mkdir()
            urls[service] = await stack.enter_async_context(
                serving(service, env, tmp_path / service)
            )
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        config = {"llm": {"base_url": fake.base_url, "model": "fake-llm"}}
        created = await client.post(
            f"{urls['tenants']}/v1/tenants",
            json={"id": "split-one", "name": "split", "config": config}, headers=ADMIN,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        tenant = {"authorization": f"Bearer {created.json()['api_key']}"}

        docs = [{"text": ZORBLAX, "name": "zorblax.txt"}, {"text": FALCON, "name": "falcon.txt"}]
        accepted = await client.post(
            f"{urls['ingest']}/v1/documents/text", json={"documents": docs}, headers=tenant
        )
        assert accepted.status_code == 202, accepted.text

        async def finished() -> dict[str, Any] | None:
            task = await client.get(
                f"{urls['ingest']}/v1/tasks/{accepted.json()['task_id']}", headers=tenant
            )
            body: dict[str, Any] = task.json()
            return body if body["status"] in ("succeeded", "failed", "partial") else None

        assert (await until(finished))["status"] == "succeeded"

        for mode in ("naive", "hybrid"):
            answer = await client.post(
                f"{urls['query']}/v1/query", headers=tenant,
                json={"query": "Who founded Zorblax Industries?", "mode": mode},
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
            assert answer.json()["references"][0]["name"] == "zorblax.txt", mode
        assert not list((tmp_path / "query").rglob("*.json*"))  # nothing local to read from
        assert (await rows_of(pg, "split-one"))["lightrag_doc_full"] == 2

        deleted = await client.delete(f"{urls['tenants']}/v1/tenants/split-one", headers=ADMIN)
        assert deleted.status_code == 202

        async def purged() -> bool:
            return await rows_of(pg, "split-one") == {}

        await until(purged)


@pytest.mark.slow
async def test_up_runs_on_the_postgres_profile(
    postgres_dsn: str, tmp_path: Path, pg: asyncpg.Connection
) -> None:
    up = UpProcess(tmp_path / "data")
    env = cli_env(RAGAPI_STORAGE_PROFILE="postgres", RAGAPI_POSTGRES_DSN=postgres_dsn)
    log = await asyncio.to_thread(open, tmp_path / "up.log", "ab")
    try:
        up.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ragapi_cli", "up", "--port", str(up.port),
            "--data-dir", str(up.data_dir), stdout=asyncio.subprocess.PIPE, stderr=log, env=env,
        )  # fmt: skip
    finally:
        await asyncio.to_thread(log.close)
    try:
        await asyncio.wait_for(up._read_banner({"default tenant API key"}), 120)
        await up.wait_ready()
        tenant = {"authorization": f"Bearer {up.banner['default tenant API key']}"}
        async with httpx.AsyncClient(base_url=up.url, headers=tenant, timeout=60) as client:
            docs = [{"text": FALCON, "name": "falcon.txt"}]
            accepted = await client.post("/v1/documents/text", json={"documents": docs})
            task_url = f"/v1/tasks/{accepted.json()['task_id']}"

            async def finished() -> str | None:
                status = str((await client.get(task_url)).json()["status"])
                return status if status not in ("queued", "running") else None

            assert await until(finished) == "succeeded"
            answer = await client.post(
                "/v1/query", json={"query": "Who steers the Kelvin Falcon?", "mode": "naive"}
            )
        assert answer.json()["references"][0]["name"] == "falcon.txt"
        assert (await rows_of(pg, "default"))["lightrag_doc_full"] == 1
    finally:
        assert await up.stop() == 0

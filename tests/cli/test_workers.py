"""``ragapi up --workers 2``: two processes on one port, one tenant's data shared through the
embedded PostgreSQL, a killed worker replaced; ``local`` storage refused."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import psutil
import pytest

from ragapi_cli.embedded import EmbeddedServerError
from ragapi_cli.pgembedded import start_postgres
from tests.cli.stack import UpProcess, run_cli, serve_env
from tests.support.servers import free_port
from tests.support.slowness import slowness

pytestmark = pytest.mark.slow

#: Harness deadlines on a loaded machine, not what is tested.
INDEX_WITHIN_S = 60.0
BACK_WITHIN_S = 45.0
#: New connections land on either worker; this many tries see both (or the test fails).
TRIES = 200

Answer = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@pytest.fixture(scope="module")
async def workers() -> AsyncIterator[UpProcess]:
    base = await asyncio.to_thread(_reachable_dir)
    up = UpProcess(base / "data", args=("--workers", "2"))
    try:
        await up.start(expect_key=True)
        yield up
        children = up.children()  # workers, NATS, Redis, PostgreSQL and its backends
        assert await up.stop() == 0
        _, alive = await asyncio.to_thread(psutil.wait_procs, children, 10)
        assert not alive, alive
    finally:
        await asyncio.to_thread(shutil.rmtree, base, ignore_errors=True)


def _reachable_dir() -> Path:
    """Not under pytest's root-only temp dir: PostgreSQL runs as its own user under root."""
    base = Path(tempfile.mkdtemp(prefix="ragapi-workers-"))
    base.chmod(0o711)  # traverse only: the server's user passes through
    return base


@pytest.fixture
def tenant(workers: UpProcess) -> dict[str, str]:
    return {"authorization": f"Bearer {workers.banner['default tenant API key']}"}


async def by_worker(url: str, call: Answer, wanted: set[str]) -> dict[str, httpx.Response]:
    """``call`` on a new connection each time until each worker in ``wanted`` answered."""
    seen: dict[str, httpx.Response] = {}
    for _ in range(TRIES):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answer = await call(client)
        seen.setdefault(answer.headers["x-ragapi-worker"], answer)
        if wanted <= set(seen):
            return seen
    raise AssertionError(f"only workers {sorted(seen)} answered in {TRIES} tries")


async def test_one_tenant_queried_through_both_workers(
    workers: UpProcess, tenant: dict[str, str]
) -> None:
    async def ask(client: httpx.AsyncClient) -> httpx.Response:
        body = {"query": "What is there?", "mode": "naive"}
        return await client.post("/v1/query", json=body, headers=tenant)

    answers = await by_worker(workers.url, ask, {"0", "1"})
    assert all(answer.status_code == 200 for answer in answers.values()), answers
    async with httpx.AsyncClient(base_url=workers.url) as client:
        metrics = (await client.get("/metrics")).text
    index = re.search(r'^ragapi_worker_info\{index="(\d)",pid="(\d+)"\} 1\.0$', metrics, re.M)
    assert index is not None, metrics
    assert re.search(r"^ragapi_event_loop_lag_seconds \S+$", metrics, re.M), metrics
    pids = {child.pid for child in workers.children()}
    assert int(index.group(2)) in pids


async def test_document_ingested_through_one_worker_is_answered_by_the_other(
    workers: UpProcess, tenant: dict[str, str]
) -> None:
    text = "Sea otters hold hands while they sleep so they do not drift apart."
    body = {"documents": [{"name": "otters.md", "text": text}]}
    async with httpx.AsyncClient(base_url=workers.url, headers=tenant, timeout=30) as client:
        added = await client.post("/v1/documents/text", json=body)
        assert added.status_code == 202, added.text
        writer = added.headers["x-ragapi-worker"]
        task = added.json()["task_id"]
        async with asyncio.timeout(INDEX_WITHIN_S):
            while True:
                status = (await client.get(f"/v1/tasks/{task}")).json()["status"]
                if status == "succeeded":
                    break
                await asyncio.sleep(0.2)
    other = "1" if writer == "0" else "0"

    async def ask(client: httpx.AsyncClient) -> httpx.Response:
        question = {"query": "Why do sea otters hold hands?", "mode": "naive"}
        return await client.post("/v1/query", json=question, headers=tenant)

    answer = (await by_worker(workers.url, ask, {other}))[other]
    assert answer.status_code == 200, answer.text
    assert "otters.md" in {ref["name"] for ref in answer.json()["references"]}
    assert "drift apart" in answer.json()["answer"]


async def test_a_revoked_key_is_refused_by_both_workers_within_a_second(
    workers: UpProcess,
) -> None:
    admin = {"authorization": f"Bearer {workers.banner['admin token']}"}
    async with httpx.AsyncClient(base_url=workers.url, timeout=30, headers=admin) as client:
        created = await client.post("/v1/tenants", json={"id": "revoked", "name": "revoked"})
        assert created.status_code == 201, created.text
        [key] = (await client.get("/v1/tenants/revoked/keys")).json()["keys"]
    tenant = {"authorization": f"Bearer {created.json()['api_key']}"}

    async def documents(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/v1/documents", headers=tenant)

    # Both workers have resolved (and cached) the key.
    answers = await by_worker(workers.url, documents, {"0", "1"})
    assert {a.status_code for a in answers.values()} == {200}
    async with httpx.AsyncClient(base_url=workers.url, timeout=30, headers=admin) as client:
        revoked = await client.delete(f"/v1/tenants/revoked/keys/{key['key_id']}")
    assert revoked.status_code == 204
    since = asyncio.get_running_loop().time()
    bound = 1.0 * slowness()
    refused: dict[str, float] = {}
    for _ in range(TRIES):
        async with httpx.AsyncClient(base_url=workers.url, timeout=30) as client:
            answer = await documents(client)
        worker, late = answer.headers["x-ragapi-worker"], asyncio.get_running_loop().time() - since
        if answer.status_code == 200:
            # Accepted only within the bound, and never again once this worker refused it.
            assert late <= bound, (worker, late)
            assert worker not in refused, (worker, late, refused)
        else:
            assert answer.status_code == 401, answer.text
            refused.setdefault(worker, late)
        if set(refused) == {"0", "1"}:
            return
    raise AssertionError(f"only workers {sorted(refused)} refused the key in {TRIES} tries")


async def test_killed_worker_is_replaced_and_the_port_keeps_answering(
    workers: UpProcess,
) -> None:
    [victim] = [p for p in workers.children() if _index(p) == "1"]
    victim.send_signal(signal.SIGKILL)
    async with httpx.AsyncClient(base_url=workers.url, timeout=30) as client:
        for _ in range(20):  # worker 0 answers meanwhile
            assert (await client.get("/healthz")).status_code == 200
    async with asyncio.timeout(BACK_WITHIN_S):
        while True:
            indexes = {_index(p): p.pid for p in workers.children()}
            if indexes.get("1") not in (None, victim.pid):
                break
            await asyncio.sleep(0.2)

    async def health(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/healthz")

    async with asyncio.timeout(BACK_WITHIN_S):
        answers = await by_worker(workers.url, health, {"0", "1"})
    assert {a.status_code for a in answers.values()} == {200}


async def test_killed_postgres_comes_back_and_queries_answer_again(
    workers: UpProcess, tenant: dict[str, str]
) -> None:
    [postmaster] = [p for p in workers.children() if p.ppid() == workers.process.pid
                    and p.name() == "postgres"]  # fmt: skip
    postmaster.send_signal(signal.SIGKILL)
    # A question not asked before: no cached answer, the chunks come from PostgreSQL.
    body = {"query": "Do otters drift apart while they sleep?", "mode": "naive"}
    async with (
        httpx.AsyncClient(base_url=workers.url, headers=tenant, timeout=30) as client,
        asyncio.timeout(BACK_WITHIN_S),
    ):
        while True:
            answer = await client.post("/v1/query", json=body)
            if answer.status_code == 200:
                assert "drift apart" in answer.json()["answer"]
                break
            # dependency_unavailable meanwhile (504: its retries outlasted the request)
            assert answer.status_code in (503, 504), answer.text
            await asyncio.sleep(0.2)
    restarted = [p for p in workers.children() if p.name() == "postgres"]
    assert postmaster.pid not in {p.pid for p in restarted}
    assert restarted


def _index(process: psutil.Process) -> str | None:
    """A worker's ``--worker-index``; None for other children (or one already gone)."""
    try:
        argv = process.cmdline()
    except psutil.Error:
        return None
    return argv[-1] if "--worker-index" in argv and process.status() != "zombie" else None


async def test_workers_refuse_the_local_profile(tmp_path: Path) -> None:
    code, out, err = await run_cli(
        "up", "--workers", "2", "--port", "0", "--data-dir", str(tmp_path / "data"),
        RAGAPI_STORAGE_PROFILE="local",
    )  # fmt: skip
    assert code == 1, (out, err)
    assert "--workers 2" in err
    assert "'local' storage" in err
    assert "RAGAPI_STORAGE_PROFILE=postgres" in err
    assert not (tmp_path / "data" / "postgres").exists()


async def test_serve_one_service_with_two_workers(
    nats_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = serve_env(nats_url, redis_url, tmp_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ragapi_cli", "serve", "tenants", "--port", str(port),
        "--workers", "2", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    try:
        up = UpProcess(tmp_path, port=port)
        await up.wait_ready()

        async def listed(client: httpx.AsyncClient) -> httpx.Response:
            return await client.get("/v1/tenants", headers={"authorization": "Bearer serve-admin"})

        answers = await by_worker(up.url, listed, {"0", "1"})
        assert {answer.status_code for answer in answers.values()} == {200}
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
    assert not psutil.pid_exists(process.pid) or psutil.Process(process.pid).status() == "zombie"


async def test_serve_query_with_two_workers_refuses_local() -> None:
    code, _, err = await run_cli(
        "serve", "query", "--workers", "2", RAGAPI_STORAGE_PROFILE="local",
        RAGAPI_ALLOW_SPLIT_LOCAL="1",
    )  # fmt: skip
    assert code == 1
    assert "--workers 2" in err
    assert "'local' storage" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as its own user under root only")
async def test_embedded_postgres_says_which_directory_keeps_its_user_out(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    await asyncio.to_thread(closed.mkdir, mode=0o700)
    with pytest.raises(EmbeddedServerError, match=rf"cannot pass {closed}: chmod o\+x"):
        await start_postgres(closed / "data")

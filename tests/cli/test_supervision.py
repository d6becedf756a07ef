"""``ragapi up`` restarts the NATS and Redis it started when they die, on the same port and
data: ``/readyz`` comes back by itself, the restarts are counted, nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client import CollectorRegistry

from ragapi_cli.embedded import ChildServer, embedded_servers
from ragapi_cli.supervisor import Supervisor, restart_counter
from tests.cli.stack import BANNER_TIMEOUT_S, UpProcess
from tests.support.servers import free_port

#: What "comes back by itself within a few seconds" means here (the first restart waits
#: 0.5 s; NATS clients retry every 0.5 s).
BACK_WITHIN_S = 10.0
#: Harness deadline for indexing on a loaded machine, not what is tested.
INDEX_WITHIN_S = 120.0


def _child(up: UpProcess, name: str) -> psutil.Process:
    [child] = [p for p in up.children() if p.name() == name and _alive(p.pid)]
    return child


def _restarts(metrics: str, server: str) -> float:
    match = re.search(
        rf'^ragapi_embedded_restarts_total\{{server="{server}"\}} (\S+)$', metrics, re.M
    )
    assert match is not None, metrics
    return float(match.group(1))


async def _replaced(up: UpProcess, name: str, pid: int) -> None:
    """Wait until a live ``name`` process other than ``pid`` runs under ``up``."""
    async with asyncio.timeout(BACK_WITHIN_S):
        while True:
            with contextlib.suppress(ValueError, psutil.NoSuchProcess):
                child = _child(up, name)
                if child.pid != pid:
                    return
            await asyncio.sleep(0.05)


async def _ready_after(client: httpx.AsyncClient, since: float) -> float:
    """Seconds from ``since`` until ``/readyz`` answers 200."""
    async with asyncio.timeout(BACK_WITHIN_S):
        while True:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return time.monotonic() - since
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def _indexed(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    """Add a text document and wait until its task succeeded; its doc_id."""
    body = {"documents": [{"name": name, "text": f"{name}: the tide tables of Arden."}]}
    added = await client.post("/v1/documents/text", json=body, headers=headers)
    assert added.status_code == 202, added.text
    task: dict[str, Any] = {}
    async with asyncio.timeout(INDEX_WITHIN_S):
        while task.get("status") not in ("succeeded", "failed", "partial"):
            await asyncio.sleep(0.1)
            answer = await client.get(f"/v1/tasks/{added.json()['task_id']}", headers=headers)
            task = answer.json() if answer.status_code == 200 else {}
    assert task["status"] == "succeeded", task
    return str(task["documents"][0]["doc_id"])


@pytest.mark.slow
@pytest.mark.timeout(BANNER_TIMEOUT_S + 300)
async def test_killed_servers_come_back_by_themselves(tmp_path: Path) -> None:
    up = UpProcess(tmp_path / "data")
    await up.start(expect_key=True)
    headers = {"authorization": f"Bearer {up.banner['default tenant API key']}"}
    try:
        async with httpx.AsyncClient(base_url=up.url, timeout=30) as client:
            before = await _indexed(client, headers, "before.txt")
            for name, server in (("nats-server", "nats"), ("redis-server", "redis")):
                child = _child(up, name)
                killed = time.monotonic()
                child.send_signal(signal.SIGKILL)
                # /readyz may still answer 200 before the services notice the loss: wait
                # for the replacement first, then for readiness.
                await _replaced(up, name, child.pid)
                took = await _ready_after(client, killed)
                print(f"{name} killed: /readyz 200 again after {took:.2f} s")
                metrics = (await client.get("/metrics")).text
                assert _restarts(metrics, server) == 1
            document = await client.get(f"/v1/documents/{before}", headers=headers)
            assert document.status_code == 200, document.text
            assert document.json()["status"] == "processed"
            await _indexed(client, headers, "after.txt")
        children = [child.pid for child in up.children()]
    finally:
        code = await up.stop(grace_s=60)
    assert code == 0
    assert not [pid for pid in children if psutil.pid_exists(pid) and _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _servers_under(path: Path) -> list[psutil.Process]:
    """Live nats-server / redis-server processes with ``path`` on their command line."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if str(path) in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


async def test_a_restart_then_a_clean_stop(tmp_path: Path) -> None:
    """Killed, NATS is started again on its port; leaving the block stops it for good."""
    registry = CollectorRegistry()
    async with embedded_servers(
        tmp_path, nats_url=None, redis_url=None, registry=registry
    ) as endpoints:
        port = int(endpoints.nats_url.rsplit(":", 1)[1])
        [nats] = [p for p in _servers_under(tmp_path) if p.name() == "nats-server"]
        nats.send_signal(signal.SIGKILL)
        async with asyncio.timeout(BACK_WITHIN_S):
            while True:
                again = [p for p in _servers_under(tmp_path) if p.name() == "nats-server"]
                if again and again[0].pid != nats.pid and await _answers(port):
                    break
                await asyncio.sleep(0.05)
        counted = registry.get_sample_value("ragapi_embedded_restarts_total", {"server": "nats"})
        assert counted == 1
        assert registry.get_sample_value("ragapi_embedded_restarts_total", {"server": "redis"}) == 0
    assert _servers_under(tmp_path) == []  # stopped, and not started again while stopping


async def _answers(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        return (await asyncio.wait_for(reader.readline(), 1)).startswith(b"INFO")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_a_crash_loop_is_retried_with_backoff_until_stopped(tmp_path: Path) -> None:
    """A child that exits at once is tried again, each wait longer, until supervision ends."""
    argv = ["/bin/sh", "-c", "exit 3"]
    child = ChildServer("loop-server", "none://", free_port(), tmp_path / "log", argv, b"", b"x")
    child.process = await asyncio.create_subprocess_exec(*argv)
    registry = CollectorRegistry()
    supervisor = Supervisor(child, restart_counter(registry), first_delay_s=0.05, max_delay_s=2)
    attempts: list[float] = []
    supervisor.start()
    try:
        async with asyncio.timeout(20):
            while len(attempts) < 5:  # waits of 0.05, 0.1, 0.2, 0.4, 0.8 s
                value = registry.get_sample_value(
                    "ragapi_embedded_restarts_total", {"server": "loop"}
                )
                if value is not None and value > len(attempts):
                    attempts.append(time.monotonic())
                await asyncio.sleep(0.01)
    finally:
        await supervisor.stop()
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps[-1] > gaps[0] + 0.3, gaps
    assert child.process is not None
    assert child.process.returncode is not None

"""``ragapi up`` as a subprocess: every path on one port, then a clean stop with no child left."""

from __future__ import annotations

import asyncio
import json
import signal
import stat
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.cli.stack import BANNER_TIMEOUT_S, UpProcess, cli_env
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

SERVICE_PATHS = {
    "ragapi_tenants": "/v1/tenants",
    "ragapi_ingest": "/v1/documents",
    "ragapi_ocr": "/v1/ocr",
    "ragapi_query": "/v1/query",
}


@pytest.fixture
def admin(stack: UpProcess) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.banner['admin token']}"}


async def test_banner_gives_url_token_and_default_key(stack: UpProcess) -> None:
    assert stack.banner["ragapi is up at"] == stack.url
    assert stack.banner["default tenant API key"].startswith("rk_")
    saved = json.loads((stack.data_dir / "secrets.json").read_text())
    assert saved["admin_token"] == stack.banner["admin token"]
    assert stat.S_IMODE((stack.data_dir / "secrets.json").stat().st_mode) == 0o600
    # The key is printed once and kept nowhere in clear.
    key = stack.banner["default tenant API key"]
    for path in stack.data_dir.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


async def test_tenant_created_over_http(stack: UpProcess, admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=stack.url, headers=admin) as client:
        created = await client.post("/v1/tenants", json={"id": "acme", "name": "Acme"})
        assert created.status_code == 201, created.text
        assert created.json()["tenant"]["id"] == "acme"
        listed = (await client.get("/v1/tenants")).json()["tenants"]
        assert {"default", "acme"} <= {tenant["id"] for tenant in listed}
        taken = await client.post("/v1/tenants", json={"id": "acme", "name": "Again"})
        assert taken.status_code == 409
        assert taken.json()["error"]["code"] == "conflict"
        no_token = await client.get("/v1/tenants", headers={"authorization": ""})
        assert no_token.status_code == 401


async def test_openapi_merges_every_running_service(stack: UpProcess) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as client:
        answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert "/v1/tenants" in paths
    assert "/v1/tenants/{id}/keys" in paths or any(p.endswith("/keys") for p in paths)
    for path in SERVICE_PATHS.values():
        assert path in paths, path


async def test_probes_metrics_and_unknown_path(stack: UpProcess) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as client:
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
        unknown = await client.get("/v1/nothing-here")
        root = await client.post("/")
    assert ready.status_code == 200
    assert ready.json()["checks"]["tenants"]["ok"] is True
    assert health.json()["status"] == "ok"
    assert "ragapi_http_request_duration_seconds" in metrics.text
    assert "ragapi_event_loop_lag_seconds" in metrics.text
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert root.status_code == 404


async def test_default_key_acts_for_the_default_tenant_only(stack: UpProcess) -> None:
    key = stack.banner["default tenant API key"]
    async with httpx.AsyncClient(base_url=stack.url) as client:
        as_admin = await client.get("/v1/tenants", headers={"authorization": f"Bearer {key}"})
    assert as_admin.status_code == 401


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _wait_gone(pids: list[int], within_s: float = 10.0) -> list[int]:
    for _ in range(int(within_s * 20)):
        alive = [pid for pid in pids if not _gone(pid)]
        if not alive:
            return []
        await asyncio.sleep(0.05)
    return alive


@pytest.mark.timeout(2 * BANNER_TIMEOUT_S + 120)  # two cold starts
async def test_sigterm_exits_zero_leaving_no_child(tmp_path: Path) -> None:
    up = UpProcess(tmp_path / "data")
    await up.start(expect_key=True)
    children = {child.pid: child.name() for child in up.children()}
    assert {"nats-server", "redis-server"} <= set(children.values()), children
    assert await up.stop(grace_s=30) == 0
    assert await _wait_gone(list(children)) == []

    # A second start on the same data: same admin token, the default tenant is not re-made;
    # stopped with Ctrl-C's SIGINT this time.
    again = UpProcess(tmp_path / "data")
    await again.start(expect_key=False)
    try:
        assert again.banner["admin token"] == up.banner["admin token"]
        assert "default tenant API key" not in again.banner
        async with httpx.AsyncClient(base_url=again.url) as client:
            headers = {"authorization": f"Bearer {again.banner['admin token']}"}
            tenant = await client.get("/v1/tenants/default", headers=headers)
        assert tenant.status_code == 200  # Redis kept it (append-only file)
        children = {child.pid: child.name() for child in again.children()}
    finally:
        assert await again.stop(grace_s=30, sig=signal.SIGINT) == 0
    assert await _wait_gone(list(children)) == []


def _servers_on(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] in ("nats-server", "redis-server") and str(data_dir) in cmdline:
            found.append(process)
    return found


async def test_a_failed_start_exits_one_and_stops_what_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ragapi_cli", "up", "--port", str(free_port()),
        "--data-dir", str(data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=cli_env(RAGAPI_REDIS_URL=dead_redis),
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), BANNER_TIMEOUT_S)
    assert process.returncode == 1, (out, err)
    assert b"tenants failed to start" in err
    assert b"Redis at" in err
    assert (data_dir / "nats").is_dir()  # the embedded NATS was started ...
    assert [p.pid for p in _servers_on(data_dir) if p.status() != psutil.STATUS_ZOMBIE] == []

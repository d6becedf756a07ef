"""Client commands against a running ``ragapi up``; ``serve`` refusing a split local profile."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.stack import UpProcess, run_cli, serve_env
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def as_admin(stack: UpProcess) -> dict[str, str]:
    return {"RAGAPI_URL": stack.url, "RAGAPI_ADMIN_TOKEN": stack.banner["admin token"]}


async def test_tenants_create_list_delete(as_admin: dict[str, str]) -> None:
    code, out, err = await run_cli("tenants", "create", "globex", "--name", "Globex", **as_admin)
    assert code == 0, err
    created = json.loads(out)
    assert created["tenant"]["id"] == "globex"
    assert created["api_key"].startswith("rk_")

    code, out, err = await run_cli("tenants", "list", **as_admin)
    assert code == 0, err
    assert "globex" in {tenant["id"] for tenant in json.loads(out)["tenants"]}

    code, out, err = await run_cli("tenants", "delete", "globex", **as_admin)
    assert code == 0, err
    code, _, err = await run_cli("tenants", "get", "globex", **as_admin)
    assert code == 1
    assert "404 not_found" in err


async def test_keys_create_list_revoke(as_admin: dict[str, str]) -> None:
    code, out, err = await run_cli("tenants", "create", "initech", **as_admin)
    assert code == 0, err
    code, out, err = await run_cli("keys", "create", "initech", **as_admin)
    assert code == 0, err
    key_id = json.loads(out)["key_id"]

    code, out, err = await run_cli("keys", "list", "initech", **as_admin)
    assert code == 0, err
    assert key_id in {key["key_id"] for key in json.loads(out)["keys"]}

    code, out, err = await run_cli("keys", "revoke", "initech", key_id, **as_admin)
    assert code == 0, err
    code, out, err = await run_cli("keys", "list", "initech", **as_admin)
    assert key_id not in {key["key_id"] for key in json.loads(out)["keys"]}
    code, _, err = await run_cli("keys", "revoke", "initech", key_id, **as_admin)
    assert code == 1
    assert "404" in err


async def test_server_errors_exit_one_with_their_message(as_admin: dict[str, str]) -> None:
    code, _, err = await run_cli("tenants", "create", "Not_Valid!", **as_admin)
    assert code == 1
    assert "422 validation_failed" in err
    code, _, err = await run_cli("tenants", "create", "default", **as_admin)
    assert code == 1
    assert "409 conflict" in err
    code, _, err = await run_cli("tenants", "list", **{**as_admin, "RAGAPI_ADMIN_TOKEN": "wrong"})
    assert code == 1
    assert "401 unauthorized" in err


async def test_unreachable_server_exits_one() -> None:
    code, _, err = await run_cli(
        "tenants", "list", "--url", "http://127.0.0.1:9", "--admin-token", "x"
    )
    assert code == 1
    assert "cannot talk to http://127.0.0.1:9" in err


@pytest.mark.parametrize("service", ["ingest", "query"])
async def test_serve_refuses_split_local_profile(service: str) -> None:
    code, _, err = await run_cli("serve", service, RAGAPI_STORAGE_PROFILE="local")
    assert code == 1
    assert "'local' storage profile" in err
    assert "ragapi up" in err
    assert "RAGAPI_STORAGE_PROFILE=postgres" in err


async def test_ingest_wait_then_ask_streams_with_references(
    stack: UpProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "otters.md").write_text(
        "# Sea otters\n\nSea otters hold hands while they sleep so they do not drift apart.\n"
    )
    (folder / "nested").mkdir()
    (folder / "nested" / "volcano.txt").write_text(
        "Mount Erebus in Antarctica is the southernmost active volcano on Earth.\n"
    )
    tenant = {"RAGAPI_URL": stack.url, "RAGAPI_TENANT_KEY": stack.banner["default tenant API key"]}

    code, out, err = await run_cli("ingest", str(folder), "--wait", **tenant)
    assert code == 0, (out, err)
    assert "2 file(s) uploaded" in out
    assert "succeeded, 2/2 done, 0 failed" in out

    code, out, err = await run_cli(
        "ask", "Why do sea otters hold hands?", "--mode", "naive", **tenant
    )
    assert code == 0, (out, err)
    answer, _, references = out.partition("References:")
    assert "otters" in answer.lower()
    assert "otters.md" in references

    code, out, err = await run_cli("ask", "anything", **{**tenant, "RAGAPI_TENANT_KEY": "rk_bad"})
    assert code == 1
    assert "401 unauthorized" in err


async def test_serve_runs_one_service_until_sigterm(
    nats_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = serve_env(nats_url, redis_url, tmp_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ragapi_cli", "serve", "tenants", "--port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        up = UpProcess(tmp_path, port=port)
        await up.wait_ready()
        async with httpx.AsyncClient(base_url=up.url) as client:
            listed = await client.get(
                "/v1/tenants", headers={"authorization": "Bearer serve-admin"}
            )
            spec = await client.get("/openapi.json")
        assert listed.status_code == 200
        assert "/v1/tenants" in spec.json()["paths"]
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0

"""The embedded NATS server's users: passwords generated once and kept private, and a config
the real nats-server accepts."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

from ragapi_cli.nats_auth import (
    kubernetes_config,
    load_passwords,
    service_settings,
    write_server_config,
)
from ragapi_common.contracts.access import SERVICE_USERS, USERS
from tests.support.servers import nats_server_binary


async def check_config(path: Path, **env: str) -> tuple[int, str]:
    """``nats-server -t``: parse the config and exit (0 when valid)."""
    process = await asyncio.create_subprocess_exec(
        nats_server_binary(), "-c", str(path), "-t",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_passwords_generated_once_private_and_completed(tmp_path: Path) -> None:
    first = await load_passwords(tmp_path)
    assert set(first) == set(USERS)
    assert len(set(first.values())) == len(USERS)
    assert all(len(password) >= 40 for password in first.values())
    path = tmp_path / "nats-users.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert await load_passwords(tmp_path) == first  # a restart reuses them

    # A user added by a newer version gets a password; the others keep theirs.
    path.write_text(json.dumps({k: v for k, v in first.items() if k != "debug"}))
    again = await load_passwords(tmp_path)
    assert {k: v for k, v in again.items() if k != "debug"} == {
        k: v for k, v in first.items() if k != "debug"
    }
    assert again["debug"]
    assert again["debug"] != first["debug"]


async def test_server_config_is_private_valid_and_gives_each_service_its_user(
    tmp_path: Path,
) -> None:
    passwords = await load_passwords(tmp_path)
    path = await write_server_config(tmp_path, passwords)
    assert path == tmp_path / "nats" / "ragapi-auth.conf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out = await check_config(path)
    assert code == 0, out
    text = path.read_text()
    assert all(f'password: "{password}"' in text for password in passwords.values())
    own = service_settings(passwords)
    assert {name: s["nats_user"] for name, s in own.items()} == {s: s for s in SERVICE_USERS}


async def test_kubernetes_config_takes_passwords_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "k8s.conf"
    path.write_text(kubernetes_config())
    env = {f"NATS_PASSWORD_{user.upper()}": f"pw-{user}" for user in USERS}
    code, out = await check_config(path, **env)
    assert code == 0, out
    missing = {k: v for k, v in env.items() if k != "NATS_PASSWORD_OCR"}
    code, out = await check_config(path, **missing)
    assert code != 0
    assert "NATS_PASSWORD_OCR" in out

"""NATS users in the cluster: each service its own user and password (from the
``ragapi-nats-users`` Secret), the NATS servers of each overlay (dev's single server, prod's
three-server cluster) defining exactly the users and permissions of ``contracts/access.py``,
and no password in a ConfigMap."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ragapi_cli.nats_auth import env_name, kubernetes_config
from ragapi_common.contracts.access import USERS
from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    SERVICES,
    config_files,
    container,
    container_env,
    of_kind,
    one,
    overlay,
    secret_data,
    server_environment,
)
from tests.support.servers import nats_server_binary

AUTH_CONFIG = K8S / "components" / "nats-auth" / "nats-auth.conf"


def test_the_dev_config_is_rendered_from_the_access_rules() -> None:
    """After a change of contracts/access.py, regenerate it:
    ``python -m ragapi_cli.nats_auth --k8s > deploy/k8s/components/nats-auth/nats-auth.conf``."""
    assert AUTH_CONFIG.read_text(encoding="utf-8") == kubernetes_config()


@pytest.mark.parametrize("env", OVERLAYS)
def test_each_service_connects_as_its_own_user(env: str) -> None:
    objs = overlay(env)
    passwords = {}
    for svc in SERVICES:
        box = container(one(objs, "Deployment", f"ragapi-{svc}"))
        (ref,) = [
            item["valueFrom"]["secretKeyRef"]
            for item in box["env"]
            if item["name"] == "RAGAPI_NATS_PASSWORD"
        ]
        assert ref["name"].startswith("ragapi-nats-users")
        assert ref["key"] == env_name(svc)
        variables = container_env(objs, env, box)
        assert variables["RAGAPI_NATS_USER"] == svc
        passwords[svc] = variables["RAGAPI_NATS_PASSWORD"]
    users = secret_data(objs, env, "ragapi-nats-users")
    assert set(users) == {env_name(user) for user in USERS}
    if env == "dev":
        assert len(set(passwords.values())) == len(SERVICES)


@pytest.mark.parametrize("env", OVERLAYS)
def test_the_nats_servers_load_the_users_with_their_passwords(env: str, tmp_path: Path) -> None:
    objs = overlay(env)
    pod = one(objs, "StatefulSet", "nats")["spec"]["template"]["spec"]
    box = container({"spec": {"template": {"spec": pod}}})
    args = box["args"]
    path = args[args.index("--config") + 1]
    files = config_files(objs, pod, path)
    assert files["nats-auth.conf"] == kubernetes_config()
    environment = server_environment(objs, env, box, "nats-0")
    assert set(re.findall(r"password: \$(\w+)", files["nats-auth.conf"])) <= set(environment)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    # The real server accepts the config (and what it includes) with that environment.
    done = subprocess.run(
        [nats_server_binary(), "-c", str(tmp_path / path.rsplit("/", 1)[1]), "-t"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("env", OVERLAYS)
def test_no_nats_password_in_a_config_map(env: str) -> None:
    for name, config_map in of_kind(overlay(env), "ConfigMap").items():
        for key, text in config_map.get("data", {}).items():
            literal = [line for line in re.findall(r"password:\s*(\S+)", text) if line[0] != "$"]
            assert not literal, f"{name}/{key}"

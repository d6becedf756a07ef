"""NATS users in the cluster: each service its own user and password (from the
``ragapi-nats-users`` Secret), the dev NATS server defining exactly the users and permissions
of ``contracts/access.py``, and no password in a ConfigMap."""

from __future__ import annotations

import re
import subprocess

import pytest

from ragapi_cli.nats_auth import env_name, kubernetes_config
from ragapi_common.contracts.access import USERS
from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    SERVICES,
    container,
    container_env,
    of_kind,
    one,
    overlay,
    secret_data,
)
from tests.support.servers import nats_server_binary

DEV_CONFIG = K8S / "overlays" / "dev" / "nats-auth.conf"


def test_the_dev_config_is_rendered_from_the_access_rules() -> None:
    """After a change of contracts/access.py, regenerate it:
    ``python -m ragapi_cli.nats_auth --k8s > deploy/k8s/overlays/dev/nats-auth.conf``."""
    assert DEV_CONFIG.read_text(encoding="utf-8") == kubernetes_config()


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


def test_the_dev_nats_server_loads_the_users_with_their_passwords() -> None:
    objs = overlay("dev")
    nats = one(objs, "StatefulSet", "nats")["spec"]["template"]["spec"]
    box = container({"spec": {"template": {"spec": nats}}})
    args = box["args"]
    path = args[args.index("--config") + 1]
    (mount,) = [m for m in box["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in nats["volumes"] if v["name"] == mount["name"]]
    config_map = of_kind(objs, "ConfigMap")[volume["configMap"]["name"]]
    config = config_map["data"][path.rsplit("/", 1)[1]]
    assert config == kubernetes_config()

    (source,) = [e["secretRef"]["name"] for e in box["envFrom"]]
    secret = secret_data(objs, "dev", source.rsplit("-", 1)[0])
    assert source in of_kind(objs, "Secret")
    assert set(re.findall(r"password: \$(\w+)", config)) == set(secret)
    # The real server accepts the config with those passwords in its environment.
    done = subprocess.run(
        [nats_server_binary(), "-c", "/dev/stdin", "-t"],
        input=config,
        capture_output=True,
        text=True,
        env=secret,
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

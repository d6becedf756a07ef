"""The kustomize tree: every file it names exists and parses, every overlay renders, and
every patch lands on an object that exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.manifests import (
    ALL_OVERLAYS,
    BASE,
    COMPONENTS,
    K8S,
    load_yaml,
    overlay,
    render,
)

OVERLAY_DIRS = [K8S / "overlays" / env for env in ALL_OVERLAYS]
KUSTOMIZATIONS = [BASE, *OVERLAY_DIRS]


def _listed_files(kustomization: dict[str, Any]) -> list[str]:
    files = [*kustomization.get("resources", []), *kustomization.get("components", [])]
    files += [p["path"] for p in kustomization.get("patches", []) if "path" in p]
    for generator in ("configMapGenerator", "secretGenerator"):
        for entry in kustomization.get(generator, []):
            files += entry.get("files", []) + entry.get("envs", [])
    return files


@pytest.mark.parametrize("directory", [*KUSTOMIZATIONS, *COMPONENTS], ids=lambda d: d.name)
def test_every_listed_file_exists_and_parses(directory: Path) -> None:
    (kustomization,) = load_yaml(directory / "kustomization.yaml")
    listed = _listed_files(kustomization)
    assert listed, "a kustomization that lists nothing"
    for entry in listed:
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory.name}/kustomization.yaml lists missing {entry}"
        if path.is_dir():
            assert (path / "kustomization.yaml").exists(), entry
            continue
        if path.suffix != ".yaml":  # a generator's file (nats-auth.conf): data, not objects
            assert path.read_text(encoding="utf-8").strip(), f"{entry} is empty"
            continue
        docs = load_yaml(path)
        assert docs, f"{entry} holds no object"
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{entry}: {doc}"


@pytest.mark.parametrize("directory", [*KUSTOMIZATIONS, *COMPONENTS], ids=lambda d: d.name)
def test_no_yaml_file_is_left_out(directory: Path) -> None:
    """A manifest beside a kustomization that it does not list is never applied."""
    (kustomization,) = load_yaml(directory / "kustomization.yaml")
    listed = {(directory / entry).resolve() for entry in _listed_files(kustomization)}
    for path in directory.glob("*.yaml"):
        assert path.name == "kustomization.yaml" or path.resolve() in listed, path.name


@pytest.mark.parametrize("env", ALL_OVERLAYS)
def test_overlay_renders_into_its_own_namespace(env: str) -> None:
    objs = overlay(env)
    (namespace,) = [o for o in objs if o["kind"] == "Namespace"]
    name = namespace["metadata"]["name"]
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == name, obj["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _matches(obj: dict[str, Any], target: dict[str, Any]) -> bool:
    if "kind" in target and obj["kind"] != target["kind"]:
        return False
    if "name" in target and obj["metadata"]["name"] != target["name"]:
        return False
    labels = obj["metadata"].get("labels", {})
    selector = target.get("labelSelector", "")
    if " in (" in selector:  # `key in (a,b)`, the one set-based form the tree uses
        key, _, values = selector.partition(" in (")
        return labels.get(key) in values.rstrip(")").split(",")
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def _users(component: Path) -> list[Path]:
    """The overlays that list ``component``."""
    return [
        directory
        for directory in OVERLAY_DIRS
        for entry in load_yaml(directory / "kustomization.yaml")[0].get("components", [])
        if (directory / entry).resolve() == component.resolve()
    ]


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda d: d.name)
def test_every_component_is_used_by_an_overlay(component: Path) -> None:
    """A component no overlay lists is never rendered, validated or checked."""
    (kustomization,) = load_yaml(component / "kustomization.yaml")
    assert kustomization["kind"] == "Component"
    assert _users(component), f"no overlay lists components/{component.name}"


@pytest.mark.parametrize("directory", [*KUSTOMIZATIONS, *COMPONENTS], ids=lambda d: d.name)
def test_every_patch_targets_an_existing_object(directory: Path) -> None:
    """kustomize silently ignores a patch whose target matches nothing; we don't.
    A component's patches are checked in the render of each overlay that lists it."""
    (kustomization,) = load_yaml(directory / "kustomization.yaml")
    users = _users(directory) if directory in COMPONENTS else [directory]
    for objs in map(render, users):
        _check_patch_targets(directory, kustomization, objs)


def _check_patch_targets(directory: Path, kustomization: dict[str, Any], objs: Any) -> None:
    for patch in kustomization.get("patches", []):
        target = dict(patch.get("target", {}))
        if not target:
            (doc,) = load_yaml(directory / patch["path"])
            target = {"kind": doc["kind"], "name": doc["metadata"]["name"]}
        hits = [o for o in objs if _matches(o, target)]
        assert hits, f"{directory.name}: patch target {target} matches nothing"


def test_overlay_patches_take_effect() -> None:
    dev, prod = overlay("dev"), overlay("prod")
    dev_hpas = [o for o in dev if o["kind"] == "HorizontalPodAutoscaler"]
    assert {h["spec"]["minReplicas"] for h in dev_hpas} == {1}
    for obj in dev:
        if obj["kind"] == "Deployment":
            assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"]
    (ingress,) = [o for o in prod if o["kind"] == "Ingress"]
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    (query_hpa,) = [
        o
        for o in prod
        if o["kind"] == "HorizontalPodAutoscaler" and "query" in o["metadata"]["name"]
    ]
    assert query_hpa["spec"]["minReplicas"] >= 3

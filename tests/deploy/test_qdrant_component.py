"""The Qdrant component, as rendered in every overlay that lists it (dev-qdrant)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.deploy.manifests import (
    ALL_OVERLAYS,
    config_data,
    container,
    container_env,
    of_kind,
    one,
    overlay,
    selects,
)

WITH_QDRANT = [env for env in ALL_OVERLAYS if "qdrant" in of_kind(overlay(env), "StatefulSet")]


def test_some_overlay_runs_qdrant() -> None:
    assert WITH_QDRANT


@pytest.mark.parametrize("env", WITH_QDRANT)
def test_the_services_reach_the_server_with_its_own_key(env: str) -> None:
    objs = overlay(env)
    data = config_data(objs, env)
    assert data["RAGAPI_VECTOR_STORE"] == "qdrant"
    url = urlsplit(data["RAGAPI_QDRANT_URL"])
    service = one(objs, "Service", str(url.hostname))
    assert url.port in {p["port"] for p in service["spec"]["ports"]}
    server = one(objs, "StatefulSet", str(url.hostname))
    assert selects(service["spec"]["selector"], server["spec"]["template"]["metadata"]["labels"])
    server_key = container_env(objs, env, container(server))["QDRANT__SERVICE__API_KEY"]
    assert server_key
    for svc in ("ingest", "query"):
        box = container(one(objs, "Deployment", f"ragapi-{svc}"))
        assert container_env(objs, env, box)["RAGAPI_QDRANT_API_KEY"] == server_key, svc
    for svc in ("tenants", "ocr"):  # they keep no vectors: no key
        box = container(one(objs, "Deployment", f"ragapi-{svc}"))
        assert "RAGAPI_QDRANT_API_KEY" not in container_env(objs, env, box), svc


@pytest.mark.parametrize("env", WITH_QDRANT)
def test_storage_snapshots_and_peers(env: str) -> None:
    objs = overlay(env)
    server = one(objs, "StatefulSet", "qdrant")
    box = container(server)
    claims = {c["metadata"]["name"] for c in server["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in box["volumeMounts"]}
    assert mounts["storage"] == "/qdrant/storage"
    assert mounts["snapshots"] == "/qdrant/snapshots"
    assert {"storage", "snapshots"} <= claims
    # Read-only root: the init marker goes to a writable volume.
    variables = container_env(objs, env, box)
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert variables["QDRANT_INIT_FILE_PATH"].startswith(mounts["init"] + "/")
    assert variables["QDRANT__CLUSTER__ENABLED"] == "true"
    headless = one(objs, "Service", server["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert "p2p" in {p["name"] for p in headless["spec"]["ports"]}
    assert f".{server['spec']['serviceName']}:6335" in box["args"][0]
    # Health endpoints answer without the API key.
    assert box["readinessProbe"]["httpGet"]["path"] == "/readyz"

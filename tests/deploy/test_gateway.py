"""The Ingress as the HTTP gateway: every prefix of the contract reaches its service."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.deploy.manifests import (
    OVERLAYS,
    Obj,
    config_data,
    container,
    of_kind,
    one,
    overlay,
    selects,
)

# shared/API.md: which service owns which prefix.
ROUTES = {
    "/v1/tenants": "tenants",
    "/v1/documents": "ingest",
    "/v1/tasks": "ingest",
    "/v1/ocr": "ocr",
    "/v1/query": "query",
    "/v1/chat/completions": "query",
    "/v1/models": "query",
    "/v1/graph": "query",
    "/console": "query",  # the web console's static files (docs/decisions/0014-console.md)
}

# Concrete requests of the contract and where they must land.
REQUESTS = {
    "/v1/tenants": "tenants",
    "/v1/tenants/acme/keys/k1": "tenants",
    "/v1/documents/text": "ingest",
    "/v1/documents/3f2a": "ingest",
    "/v1/tasks/t1/events": "ingest",
    "/v1/ocr": "ocr",
    "/v1/query": "query",
    "/v1/chat/completions": "query",
    "/v1/models": "query",
    "/v1/graph": "query",
    "/console/": "query",
    "/console/js/main.js": "query",
}


def _paths(ingress: Obj) -> list[Obj]:
    (rule,) = ingress["spec"]["rules"]
    return list(rule["http"]["paths"])


def _route(ingress: Obj, request_path: str) -> str | None:
    """The Service a request reaches: the longest Prefix match, by whole path elements."""
    best: tuple[int, str] | None = None
    for entry in _paths(ingress):
        prefix = entry["path"].rstrip("/")
        matched = request_path == prefix or request_path.startswith(prefix + "/")
        if entry["pathType"] == "Exact":
            matched = request_path == entry["path"]
        if matched and (best is None or len(prefix) > best[0]):
            best = (len(prefix), entry["backend"]["service"]["name"])
    return best[1] if best else None


@pytest.mark.parametrize("env", OVERLAYS)
def test_contract_prefixes_route_to_their_services(env: str) -> None:
    ingress = one(overlay(env), "Ingress", "ragapi")
    routed = {e["path"]: e["backend"]["service"]["name"] for e in _paths(ingress)}
    assert routed == {path: f"ragapi-{svc}" for path, svc in ROUTES.items()}
    assert {e["pathType"] for e in _paths(ingress)} == {"Prefix"}


@pytest.mark.parametrize("env", OVERLAYS)
@pytest.mark.parametrize(("path", "svc"), REQUESTS.items())
def test_requests_reach_the_right_service(env: str, path: str, svc: str) -> None:
    assert _route(one(overlay(env), "Ingress", "ragapi"), path) == f"ragapi-{svc}"


def test_unknown_paths_are_not_routed() -> None:
    ingress = one(overlay("prod"), "Ingress", "ragapi")
    assert _route(ingress, "/v1/documentsX") is None
    assert _route(ingress, "/admin") is None
    assert _route(ingress, "/consoleX") is None


@pytest.mark.parametrize("env", OVERLAYS)
def test_backends_resolve_to_a_container_port(env: str) -> None:
    objs = overlay(env)
    ingress = one(objs, "Ingress", "ragapi")
    for entry in _paths(ingress):
        backend = entry["backend"]["service"]
        service = one(objs, "Service", backend["name"])
        (port,) = [p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"]]
        deployment = one(objs, "Deployment", backend["name"])
        names = {p["name"] for p in container(deployment)["ports"]}
        assert port["targetPort"] in names


@pytest.mark.parametrize("env", OVERLAYS)
def test_streaming_and_uploads_pass_through_the_proxy(env: str) -> None:
    """SSE must not be buffered; uploads must stream so the app can answer 413 early."""
    annotations = one(overlay(env), "Ingress", "ragapi")["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "proxy-buffering"] == "off"
    assert annotations[prefix + "proxy-request-buffering"] == "off"
    assert annotations[prefix + "proxy-body-size"] == "0"
    assert int(annotations[prefix + "proxy-read-timeout"]) >= 600


def test_prod_serves_one_tls_host() -> None:
    ingress = one(overlay("prod"), "Ingress", "ragapi")
    (rule,) = ingress["spec"]["rules"]
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == [rule["host"]]


# What each overlay runs in its namespace, and the setting that points the services there.
IN_NAMESPACE = {
    "dev": ("RAGAPI_NATS_URL", "RAGAPI_REDIS_URL", "RAGAPI_POSTGRES_DSN"),
    "prod": ("RAGAPI_NATS_URL",),  # Redis and PostgreSQL are managed outside
}


@pytest.mark.parametrize("env", OVERLAYS)
def test_the_dependencies_run_where_the_urls_point(env: str) -> None:
    objs = overlay(env)
    data = config_data(objs, env)
    services = of_kind(objs, "Service")
    sets = of_kind(objs, "StatefulSet")
    for key in IN_NAMESPACE[env]:
        url = urlsplit(data[key])
        assert url.hostname in services, key
        service = services[url.hostname]
        assert url.port in {p["port"] for p in service["spec"]["ports"]}, key
        assert url.hostname in sets, f"{key}: nothing runs {url.hostname}"
        labels = sets[url.hostname]["spec"]["template"]["metadata"]["labels"]
        assert selects(service["spec"]["selector"], labels), key
        assert sets[url.hostname]["spec"]["volumeClaimTemplates"], f"{url.hostname} keeps no data"
    assert set(sets) == {urlsplit(data[key]).hostname for key in IN_NAMESPACE[env]}
    nats = sets["nats"]["spec"]["template"]["spec"]["containers"][0]
    assert "--jetstream" in nats["args"] or "jetstream" in _nats_config(objs)


def _nats_config(objs: tuple[Obj, ...]) -> str:
    (config,) = [o for o in objs if o["kind"] == "ConfigMap" and "nats.conf" in o.get("data", {})]
    return str(config["data"]["nats.conf"])

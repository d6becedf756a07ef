"""Who may talk to whom in each rendered overlay, evaluated over its NetworkPolicies.

Every pair of endpoints (the overlay's pods, the ingress controller, the cluster DNS, the
OpenTelemetry collector, a stranger pod in another namespace and one in ours, the managed
services and model endpoints outside) is tried on every port either side uses, and the
outcome must be exactly the allowed matrix below: nothing more, nothing less.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.deploy.manifests import ALL_OVERLAYS, SERVICES, Obj, of_kind, overlay
from tests.deploy.netpol import Pod, allowed, pods_of, selects

INGRESS = Pod(
    "ingress-nginx",
    "10.244.2.1",
    "ingress-nginx",
    {"app.kubernetes.io/name": "ingress-nginx"},
    {"kubernetes.io/metadata.name": "ingress-nginx"},
)
DNS = Pod(
    "kube-dns",
    "10.244.2.2",
    "kube-system",
    {"k8s-app": "kube-dns"},
    {"kubernetes.io/metadata.name": "kube-system"},
    {"dns": 53},
)
COLLECTOR = Pod(
    "otel-collector",
    "10.244.2.3",
    "observability",
    {"app.kubernetes.io/component": "opentelemetry-collector"},
    {"kubernetes.io/metadata.name": "observability"},
    {"otlp-http": 4318},
)
STRANGER = Pod(
    "stranger",
    "10.244.2.4",
    "default",
    {"app": "other"},
    {"kubernetes.io/metadata.name": "default"},
)
# Carries the DNS pods' label in another namespace: must not pass as the cluster DNS.
IMPOSTOR = Pod(
    "impostor", "10.244.2.5", "default", {"k8s-app": "kube-dns"},
    {"kubernetes.io/metadata.name": "default"}, {"dns": 53},
)  # fmt: skip
INTERNET = Pod("internet", "1.1.1.1")
# Inside prod's placeholders (RFC 5737 ranges, overlays/prod/kustomization.yaml).
MANAGED_REDIS = Pod("managed-redis", "198.51.100.5")
MANAGED_POSTGRES = Pod("managed-postgres", "198.51.100.20")
PROD_MODELS = Pod("prod-models", "203.0.113.10")
OUTSIDE = (INTERNET, MANAGED_REDIS, MANAGED_POSTGRES, PROD_MODELS)
PROBED_PORTS = (22, 53, 443, 4222, 4318, 5432, 6222, 6333, 6334, 6335, 6379, 8000, 8222)


@dataclass(frozen=True)
class Overlay:
    name: str
    namespace: str
    objs: tuple[Obj, ...]
    pods: tuple[Pod, ...]
    policies: list[Obj]

    @property
    def prod(self) -> bool:
        return self.name.startswith("prod")


def _overlay(env: str) -> Overlay:
    objs = overlay(env)
    (namespace,) = [o for o in objs if o["kind"] == "Namespace"]
    name = namespace["metadata"]["name"]
    labels = {"kubernetes.io/metadata.name": name} | namespace["metadata"].get("labels", {})
    # A pod nobody planned for (a debug shell): default deny must hold it too.
    squatter = Pod("squatter", "10.244.1.200", name, {"app": "debug"}, labels, {"web": 8080})
    pods = (*pods_of(objs, labels), squatter)
    return Overlay(env, name, objs, pods, list(of_kind(objs, "NetworkPolicy").values()))


def _model_endpoint(overlay: Overlay, destination: Pod) -> bool:
    """dev: any address outside the cluster's private ranges; prod: its placeholder range."""
    if overlay.prod:
        return destination is PROD_MODELS
    return destination.namespace is None


def _component(pod: Pod) -> str:
    if pod.labels.get("app.kubernetes.io/name") == "ragapi":
        return pod.labels["app.kubernetes.io/component"]
    return pod.labels.get("app.kubernetes.io/name", pod.name)


def _expected(overlay: Overlay, source: Pod, destination: Pod, port: int) -> bool:
    """The matrix: what each endpoint may open, and nothing else."""
    src, dst = _component(source), _component(destination)
    ours = source.namespace == overlay.namespace
    if destination is DNS:
        return ours and port == 53
    if source is INGRESS:
        return dst in SERVICES and port == 8000
    if src in SERVICES:
        # tenants calls no model provider.
        if src != "tenants" and port in (443, 8000) and _model_endpoint(overlay, destination):
            return True
        reaches = {"nats": {4222}, "redis": {6379}, "otel-collector": {4318}}
        if overlay.prod:
            reaches["managed-redis"] = {6379}
        if src in ("ingest", "query"):  # LightRAG's storages: PostgreSQL, Qdrant
            reaches |= {"postgres": {5432}, "qdrant": {6333, 6334}}
            if overlay.prod:
                reaches["managed-postgres"] = {5432}
        if src == "ocr":  # the in-namespace DeepSeek-OCR model server (its component)
            reaches["deepseek-ocr"] = {8000}
        return port in reaches.get(dst, set())
    if src == "deepseek-ocr":  # its weights from the Hugging Face Hub: public HTTPS only
        return port == 443 and destination.namespace is None
    # The NATS servers and Qdrant nodes talk to their own kind, when they are a cluster.
    peers = {"nats": 6222, "qdrant": 6335}
    return src == dst and port == peers.get(src) and _clustered(overlay, src)


def _clustered(overlay: Overlay, name: str) -> bool:
    """NATS: the nats-cluster component; Qdrant: always in distributed mode."""
    workload = of_kind(overlay.objs, "StatefulSet")[name]
    return name == "qdrant" or workload["spec"]["replicas"] > 1


def _ports(pod: Pod) -> set[int]:
    return set(pod.ports.values()) | set(PROBED_PORTS)


@pytest.mark.parametrize("env", ALL_OVERLAYS)
def test_only_the_intended_connections_are_allowed(env: str) -> None:
    overlay = _overlay(env)
    outside_ns = (INGRESS, DNS, COLLECTOR, STRANGER, IMPOSTOR, *OUTSIDE)
    wrong = []
    for source in (*overlay.pods, INGRESS, COLLECTOR, STRANGER):
        for destination in (*overlay.pods, *outside_ns):
            if source.namespace != overlay.namespace != destination.namespace:
                continue  # neither end is governed by this overlay's policies
            if source is destination:
                continue
            for port in sorted(_ports(destination)):
                for protocol in ("UDP", "TCP") if port == 53 else ("TCP",):
                    got = allowed(overlay.policies, source, destination, port, protocol)
                    if got != _expected(overlay, source, destination, port):
                        wrong.append(
                            f"{source.name} -> {destination.name}:{port}/{protocol}: {got}"
                        )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("env", ALL_OVERLAYS)
def test_every_pod_is_under_default_deny(env: str) -> None:
    overlay = _overlay(env)
    deny = [
        p
        for p in overlay.policies
        if set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    for pod in overlay.pods:
        assert any(selects(p["spec"]["podSelector"], pod.labels) for p in deny), pod.name


# Which workloads each policy is meant for (by the component or name of their pods).
RAGAPI = frozenset(SERVICES)
ALL = frozenset({"*"})
INTENT: dict[str, frozenset[str]] = {
    "default-deny": ALL,
    "allow-dns": ALL,
    "ragapi-from-ingress": RAGAPI,
    "ragapi-to-nats": RAGAPI,
    "ragapi-to-redis": RAGAPI,
    "ragapi-to-postgres": frozenset({"ingest", "query"}),
    "ragapi-to-otel-collector": RAGAPI,
    "ragapi-to-models": frozenset({"ingest", "ocr", "query"}),
    "ragapi-to-qdrant": frozenset({"ingest", "query"}),
    "nats-from-ragapi": frozenset({"nats"}),
    "nats-cluster-routes": frozenset({"nats"}),
    "redis-from-ragapi": frozenset({"redis"}),
    "postgres-from-ragapi": frozenset({"postgres"}),
    "qdrant-from-ragapi": frozenset({"qdrant"}),
    "qdrant-peers": frozenset({"qdrant"}),
    "deepseek-ocr-from-ragapi": frozenset({"deepseek-ocr"}),
    "ragapi-to-deepseek-ocr": frozenset({"ocr"}),
    "deepseek-ocr-to-hub": frozenset({"deepseek-ocr"}),
}


@pytest.mark.parametrize("env", ALL_OVERLAYS)
def test_each_policy_selects_the_pods_it_is_meant_for(env: str) -> None:
    overlay = _overlay(env)
    workloads = [p for p in overlay.pods if p.name != "squatter"]
    for policy in overlay.policies:
        name = policy["metadata"]["name"]
        assert name in INTENT, f"{name}: add what it is meant for to INTENT"
        chosen = {
            _component(p) for p in workloads if selects(policy["spec"]["podSelector"], p.labels)
        }
        meant = {_component(p) for p in workloads} if INTENT[name] == ALL else set(INTENT[name])
        assert chosen == meant, name


@pytest.mark.parametrize("env", ALL_OVERLAYS)
def test_each_in_namespace_peer_selects_a_pod(env: str) -> None:
    """A peer that matches no pod of the namespace is a typo or a dependency left out."""
    overlay = _overlay(env)
    for policy in overlay.policies:
        spec = policy["spec"]
        rules = [*spec.get("ingress", []), *spec.get("egress", [])]
        for rule in rules:
            for peer in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    hits = [p for p in overlay.pods if selects(peer["podSelector"], p.labels)]
                    assert hits, f"{policy['metadata']['name']}: {peer} selects no pod"

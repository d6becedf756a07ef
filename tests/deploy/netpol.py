"""A NetworkPolicy evaluator for the deploy tests: would a connection be allowed?

It implements the ``networking.k8s.io/v1`` semantics the overlays use: a pod selected by a
policy of a direction is isolated in that direction and accepts only what one of those
policies' rules allows; a rule's peers are alternatives, a peer's ``namespaceSelector`` and
``podSelector`` both have to match (a lone ``podSelector`` means the policy's namespace);
``ipBlock`` matches addresses (``except`` carved out); ports are numbers or the destination
container's port names (``endPort`` ranges too), absent ports mean every port. A connection
is allowed when the source's egress and the destination's ingress both allow it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Pod:
    """An endpoint: a pod of the rendered overlay, a pod elsewhere in the cluster, or an
    address outside it (no namespace)."""

    name: str
    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (``matchLabels`` and ``matchExpressions``); ``{}`` selects all."""
    selector = selector or {}
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression(term, labels) for term in selector.get("matchExpressions", []))


def _expression(term: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator, values = term["key"], term["operator"], term.get("values", [])
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(f"unknown selector operator {operator!r}")


def _peer_matches(peer: Obj, namespace: str, other: Pod) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(cut) for cut in block.get("except", []))
    if other.namespace is None:  # an address outside the cluster: only ipBlocks match it
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != namespace:
        return False
    return selects(peer.get("podSelector"), other.labels)


def _port_matches(rule_port: Obj, port: int, protocol: str, destination: Pod) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return destination.ports.get(wanted) == port
    return int(wanted) <= port <= int(rule_port.get("endPort", wanted))


def _rule_allows(rule: Obj, peers_key: str, namespace: str, other: Pod, port: int,
                 protocol: str, destination: Pod) -> bool:  # fmt: skip
    # Empty or absent peers or ports: every peer, every port.
    peers = rule.get(peers_key)
    if peers and not any(_peer_matches(p, namespace, other) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(_port_matches(p, port, protocol, destination) for p in ports)


def _direction_allows(policies: Iterable[Obj], direction: str, subject: Pod, other: Pod,
                      port: int, protocol: str, destination: Pod) -> bool:  # fmt: skip
    """Whether ``subject``'s policies of ``direction`` (Ingress/Egress) let ``other`` through."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    isolated = False
    for policy in policies:
        namespace = policy["metadata"]["namespace"]
        spec = policy["spec"]
        if namespace != subject.namespace or direction not in _types(spec):
            continue
        if not selects(spec["podSelector"], subject.labels):
            continue
        isolated = True
        for rule in spec.get(rules_key, []):
            if _rule_allows(rule, peers_key, namespace, other, port, protocol, destination):
                return True
    return not isolated


def _types(spec: Obj) -> list[str]:
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]


def allowed(policies: list[Obj], source: Pod, destination: Pod, port: int,
            protocol: str = "TCP") -> bool:  # fmt: skip
    """Whether ``source`` may open a connection to ``destination:port``."""
    out = _direction_allows(policies, "Egress", source, destination, port, protocol, destination)
    return out and _direction_allows(
        policies, "Ingress", destination, source, port, protocol, destination
    )


def pods_of(objs: Iterable[Obj], namespace_labels: Mapping[str, str]) -> list[Pod]:
    """One Pod per workload of the render, with its template's labels and named ports."""
    pods = []
    for index, obj in enumerate(o for o in objs if o["kind"] in ("Deployment", "StatefulSet")):
        template = obj["spec"]["template"]
        ports = {
            port["name"]: port["containerPort"]
            for box in template["spec"]["containers"]
            for port in box.get("ports", [])
            if "name" in port
        }
        pods.append(
            Pod(
                name=f"{obj['kind']}/{obj['metadata']['name']}",
                ip=f"10.244.1.{index + 1}",
                namespace=obj["metadata"]["namespace"],
                labels=template["metadata"]["labels"],
                namespace_labels=namespace_labels,
                ports=ports,
            )
        )
    return pods

"""The pods get OpenTelemetry's variables from the ``ragapi-otel`` ConfigMap: off in the base
and dev (empty endpoint), on in prod, where the overlay names the collector."""

from __future__ import annotations

import pytest

from ragapi_common import tracing
from tests.deploy.manifests import OVERLAYS, SERVICES, container, one, overlay


def _otel(env: str) -> tuple[dict[str, str], list[str]]:
    objs = overlay(env)
    (config,) = [
        o for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("ragapi-otel")
    ]  # fmt: skip
    refs = [
        ref["configMapRef"]["name"]
        for svc in SERVICES
        for ref in container(one(objs, "Deployment", f"ragapi-{svc}")).get("envFrom", [])
        if "configMapRef" in ref
    ]
    return config["data"], [name for name in refs if name == config["metadata"]["name"]]


@pytest.mark.parametrize("env", OVERLAYS)
def test_every_service_reads_the_otel_config_and_only_prod_turns_tracing_on(env: str) -> None:
    data, readers = _otel(env)
    assert len(readers) == len(SERVICES)
    assert all(key.startswith("OTEL_") for key in data)
    exporter = tracing._exporter_from(data)
    assert (exporter is not None) == (env == "prod")
    if exporter is not None:
        exporter.shutdown()

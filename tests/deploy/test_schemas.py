"""Every rendered object against the Kubernetes OpenAPI schemas (offline, strict: unknown
fields are errors), for the oldest Kubernetes we support and the newest the validator knows."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.deploy.manifests import ALL_OVERLAYS, BASE, K8S, render

OLDEST_SUPPORTED = "1.30.0"
VERSIONS = (OLDEST_SUPPORTED, kubernetes_validate.latest_version())
TREES = [BASE, *(K8S / "overlays" / env for env in ALL_OVERLAYS)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("directory", TREES, ids=lambda d: d.name)
def test_rendered_objects_match_the_schema(directory: object, version: str) -> None:
    errors = []
    for obj in render(directory):  # type: ignore[arg-type]
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert not errors, "\n".join(errors)

"""The optional ``deepseek-ocr`` component (vLLM serving DeepSeek-OCR), rendered into each
overlay the way an operator adds it (``components: [../../components/deepseek-ocr]``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    Obj,
    config_data,
    container,
    load_yaml,
    one,
    render,
    secret_data,
    selects,
)

COMPONENT = K8S / "components" / "deepseek-ocr"
#: vLLM's DeepSeek-OCR recipe: the n-gram processor the engine's vllm_xargs drive, no
#: prefix caching, no multimodal processor cache.
RECIPE = {
    "--logits-processors=vllm.model_executor.models.deepseek_ocr:NGramPerReqLogitsProcessor",
    "--no-enable-prefix-caching",
    "--mm-processor-cache-gb=0",
}


@pytest.fixture(scope="module", params=OVERLAYS)
def with_component(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, tuple[Obj, ...]]:
    """The overlay plus the component, as kustomize renders them."""
    env = str(request.param)
    directory = tmp_path_factory.mktemp(f"{env}-gpu")
    (namespace,) = [o for o in load_yaml(K8S / "overlays" / env / "namespace.yaml")]
    relative = Path(os.path.relpath(K8S, directory))
    (directory / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {namespace['metadata']['name']}\n"
        f"resources:\n  - {relative / 'overlays' / env}\n"
        f"components:\n  - {relative / 'components' / 'deepseek-ocr'}\n",
        encoding="utf-8",
    )
    return env, render(directory)


def test_component_files_are_listed() -> None:
    (kustomization,) = load_yaml(COMPONENT / "kustomization.yaml")
    assert kustomization["kind"] == "Component"
    listed = set(kustomization["resources"])
    assert {p.name for p in COMPONENT.glob("*.yaml")} - {"kustomization.yaml"} == listed


def test_vllm_runs_the_recipe_on_a_gpu(with_component: tuple[str, tuple[Obj, ...]]) -> None:
    _, objs = with_component
    deployment = one(objs, "Deployment", "deepseek-ocr")
    pod = deployment["spec"]["template"]["spec"]
    box = container(deployment)
    assert box["args"][0] == "deepseek-ai/DeepSeek-OCR"
    assert set(box["args"]) >= RECIPE, box["args"]
    assert box["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert box["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert box["readinessProbe"]["httpGet"] == {"path": "/v1/models", "port": "http"}
    assert not box["image"].endswith(":latest")


def test_vllm_pod_passes_the_restricted_pod_security(
    with_component: tuple[str, tuple[Obj, ...]],
) -> None:
    _, objs = with_component
    deployment = one(objs, "Deployment", "deepseek-ocr")
    pod = deployment["spec"]["template"]["spec"]
    box = container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert box["securityContext"]["capabilities"]["drop"] == ["ALL"]
    namespace = next(o for o in objs if o["kind"] == "Namespace")["metadata"]["name"]
    assert deployment["metadata"]["namespace"] == namespace


def test_ocr_service_is_pointed_at_it_and_may_reach_it(
    with_component: tuple[str, tuple[Obj, ...]],
) -> None:
    env, objs = with_component
    service = one(objs, "Service", "deepseek-ocr")
    deployment = one(objs, "Deployment", "deepseek-ocr")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(service["spec"]["selector"], labels)
    config = config_data(objs, env)
    assert config["RAGAPI_OCR_BASE_URL"] == "http://deepseek-ocr:8000/v1"
    assert config["RAGAPI_OCR_MODEL"] == "deepseek-ai/DeepSeek-OCR"
    assert config["RAGAPI_OCR_ENGINE"] == "local"  # tenants opt in with ocr.engine
    policy = one(objs, "NetworkPolicy", "deepseek-ocr-from-ragapi")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    ocr_pod = one(objs, "Deployment", "ragapi-ocr")["spec"]["template"]["metadata"]["labels"]
    (rule,) = policy["spec"]["ingress"]
    assert any(selects(peer["podSelector"]["matchLabels"], ocr_pod) for peer in rule["from"])
    (api_key,) = [e for e in container(deployment)["env"] if e["name"] == "VLLM_API_KEY"]
    ref = api_key["valueFrom"]["secretKeyRef"]
    assert ref["key"] == "RAGAPI_OCR_API_KEY"  # the key the engine sends as its Bearer token
    assert ref["optional"] or ref["key"] in secret_data(objs, env, "ragapi-secrets")


def test_overlays_without_it_have_no_model_server() -> None:
    for env in OVERLAYS:
        assert "deepseek-ocr" not in {o["metadata"]["name"] for o in render(K8S / "overlays" / env)}

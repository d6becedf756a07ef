"""Each service's Deployment, Service, HPA and PDB, as rendered for each environment."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import (
    OVERLAYS,
    SCALED,
    SERVICES,
    Obj,
    config_data,
    container,
    container_env,
    of_kind,
    one,
    overlay,
    pod_templates,
    ragapi_config,
    selects,
)

WRITABLE = "/tmp"  # noqa: S108 - the pod's emptyDir, not a temporary file
CASES = [(env, svc) for env in OVERLAYS for svc in SERVICES]


def _deployment(env: str, svc: str) -> Obj:
    return one(overlay(env), "Deployment", f"ragapi-{svc}")


def test_one_deployment_per_service_and_nothing_else() -> None:
    for env in OVERLAYS:
        names = set(of_kind(overlay(env), "Deployment"))
        assert names == {f"ragapi-{svc}" for svc in SERVICES}, env


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_runs_its_service_on_port_8000(env: str, svc: str) -> None:
    box = container(_deployment(env, svc))
    assert box["command"] == ["ragapi", "serve", svc, "--host", "0.0.0.0", "--port", "8000"]
    assert "args" not in box
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in box["ports"]
    image = box["image"]
    assert image.rsplit(":", 1)[0].endswith(f"/{svc}"), image
    assert ":" in image, "pin a tag per environment"
    assert not image.endswith(":latest")


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_probes(env: str, svc: str) -> None:
    box = container(_deployment(env, svc))
    assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    startup = box["startupProbe"]
    assert startup["httpGet"]["path"] == "/healthz"
    # Liveness only starts after startup succeeds; give model loading at least a minute.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_resources(env: str, svc: str) -> None:
    resources = container(_deployment(env, svc))["resources"]
    requests, limits = resources["requests"], resources["limits"]
    assert {"cpu", "memory"} <= requests.keys()
    assert _mebibytes(requests["memory"]) <= _mebibytes(limits["memory"])
    if svc == "query":  # ~300 MB resident: LightRAG + the bundled embedder
        assert _mebibytes(requests["memory"]) >= 300
    if svc == "ocr":
        query = container(_deployment(env, "query"))["resources"]["limits"]["memory"]
        assert _mebibytes(limits["memory"]) > _mebibytes(query)


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    for unit, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if quantity.endswith(unit):
            return float(quantity[: -len(unit)]) * factor
    return float(quantity) / 2**20


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_security_context(env: str, svc: str) -> None:
    deployment = _deployment(env, svc)
    pod = deployment["spec"]["template"]["spec"]
    box = container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    context = box["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    # With a read-only root, /tmp must be a writable emptyDir.
    (mount,) = [m for m in box["volumeMounts"] if m["mountPath"] == WRITABLE]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mount["name"]]
    data_dir = config_data(overlay(env), env)["RAGAPI_DATA_DIR"]
    assert data_dir.startswith(WRITABLE + "/"), "the data dir must be on the writable volume"


@pytest.mark.parametrize("env", OVERLAYS)
def test_every_pod_meets_the_restricted_pod_security_standard(env: str) -> None:
    """The namespaces enforce `restricted`: a pod that breaks it would never start."""
    for name, template in pod_templates(overlay(env)).items():
        pod = template["spec"]
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for box in pod["containers"]:
            context = box.get("securityContext", {})
            non_root = context.get("runAsNonRoot", pod["securityContext"].get("runAsNonRoot"))
            assert non_root is True, name
            assert context.get("allowPrivilegeEscalation") is False, name
            assert context.get("capabilities", {}).get("drop") == ["ALL"], name
            assert "add" not in context.get("capabilities", {}), name


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_graceful_shutdown_outlasts_prestop_and_drain(env: str, svc: str) -> None:
    deployment = _deployment(env, svc)
    pod = deployment["spec"]["template"]["spec"]
    command = container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert pre_stop >= 3, "the Ingress needs a few seconds to stop routing"
    drain = float(config_data(overlay(env), env)["RAGAPI_SHUTDOWN_GRACE_S"])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_prometheus_scrapes_metrics(env: str, svc: str) -> None:
    annotations = _deployment(env, svc)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == "8000"


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_config_and_secret_come_from_objects_that_exist(env: str, svc: str) -> None:
    objs = overlay(env)
    env_from = container(_deployment(env, svc))["envFrom"]
    config_maps = [e["configMapRef"]["name"] for e in env_from if "configMapRef" in e]
    secrets = [e["secretRef"]["name"] for e in env_from if "secretRef" in e]
    assert len(config_maps) == 2  # ragapi-config, ragapi-otel
    assert len(secrets) == 1
    assert all(name in of_kind(objs, "ConfigMap") for name in config_maps)
    # prod's Secret is made out of band (overlays/prod/secrets.example.env).
    if env == "dev":
        assert secrets[0] in of_kind(objs, "Secret")
    else:
        assert secrets[0] == "ragapi-secrets"


SENSITIVE = ("RAGAPI_ADMIN_TOKEN", "RAGAPI_SECRET_KEY", "RAGAPI_POSTGRES_DSN")
REQUIRED = (*SENSITIVE, "RAGAPI_NATS_URL", "RAGAPI_REDIS_URL", "RAGAPI_STORAGE_PROFILE")


@pytest.mark.parametrize("env", OVERLAYS)
def test_required_settings_are_provided_and_secrets_stay_secret(env: str) -> None:
    objs = overlay(env)
    data = config_data(objs, env)
    missing = [key for key in REQUIRED if key not in data]
    assert not missing
    assert data["RAGAPI_STORAGE_PROFILE"] == "postgres", "`local` refuses to run split"
    config = ragapi_config(objs)
    leaked = [k for k in config["data"] if k in SENSITIVE or k.endswith("_API_KEY")]
    assert not leaked, f"secrets in a ConfigMap: {leaked}"


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_service_selects_exactly_its_deployment(env: str, svc: str) -> None:
    objs = overlay(env)
    service = one(objs, "Service", f"ragapi-{svc}")
    selector = service["spec"]["selector"]
    for name, deployment in of_kind(objs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(selector, labels) == (name == f"ragapi-{svc}"), name
        assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    (port,) = service["spec"]["ports"]
    assert port["name"] == "http"
    assert port["targetPort"] == "http"


@pytest.mark.parametrize("env", OVERLAYS)
def test_hpas_scale_the_workers_on_cpu(env: str) -> None:
    objs = overlay(env)
    hpas = of_kind(objs, "HorizontalPodAutoscaler")
    deployments = of_kind(objs, "Deployment")
    assert sorted(hpas) == sorted(f"ragapi-{svc}" for svc in SCALED)
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment"
        assert target["apiVersion"] == "apps/v1"
        assert target["name"] in deployments
        assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        deployment = deployments[target["name"]]
        # `kubectl apply` would reset the HPA's choice to a replicas field on every deploy.
        assert "replicas" not in deployment["spec"], name
        assert "cpu" in container(deployment)["resources"]["requests"]


@pytest.mark.parametrize("env", OVERLAYS)
def test_pdbs_cover_every_deployment(env: str) -> None:
    objs = overlay(env)
    pdbs = of_kind(objs, "PodDisruptionBudget")
    hpas = of_kind(objs, "HorizontalPodAutoscaler")
    for name, deployment in of_kind(objs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [
            p for p in pdbs.values() if selects(p["spec"]["selector"]["matchLabels"], labels)
        ]
        assert len(covering) == 1, name
        assert covering[0]["spec"]["minAvailable"] == 1
        if env == "prod":  # a drain must be able to evict one pod
            lowest = (
                hpas[name]["spec"]["minReplicas"]
                if name in hpas
                else deployment["spec"]["replicas"]
            )
            assert lowest >= 2, name
    for pdb in pdbs.values():
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(
            selects(selector, d["spec"]["template"]["metadata"]["labels"])
            for d in of_kind(objs, "Deployment").values()
        ), pdb["metadata"]["name"]


@pytest.mark.parametrize("env", OVERLAYS)
def test_ocr_pool_fits_its_cpu_limit(env: str) -> None:
    """Unset, the OCR pool sizes itself to the node's cores, not the pod's limit."""
    box = container(_deployment(env, "ocr"))
    variables = container_env(overlay(env), env, box)
    processes = int(variables["RAGAPI_OCR_PROCESSES"])
    assert 1 <= processes <= float(box["resources"]["limits"]["cpu"])

"""The environment the pods get, read by the settings classes ``ragapi serve`` uses: every
key is a real setting (a typo would be silently ignored), and every value parses."""

from __future__ import annotations

import os

import pytest

from ragapi_cli.services import spec_of
from ragapi_cli.settings import CliSettings
from ragapi_common import tracing
from tests.deploy.manifests import (
    ALL_OVERLAYS,
    SERVICES,
    config_data,
    container,
    container_env,
    one,
    overlay,
)

CASES = [(env, svc) for env in ALL_OVERLAYS for svc in SERVICES]
# Read by the runtime, not by our settings.
NOT_OURS = {"HOME", "XDG_CACHE_HOME"}


def _pod_environment(env: str, svc: str) -> dict[str, str]:
    objs = overlay(env)
    values = config_data(objs, env)
    box = container(one(objs, "Deployment", f"ragapi-{svc}"))
    return values | container_env(objs, env, box)


@pytest.fixture
def pod_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("RAGAPI_"):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_every_variable_is_a_setting_of_the_service(env: str, svc: str) -> None:
    settings_class = type(spec_of(svc).settings())
    known = {f"RAGAPI_{name.upper()}" for name in settings_class.model_fields}
    known |= {f"RAGAPI_{name.upper()}" for name in CliSettings.model_fields}
    unknown = sorted(set(_pod_environment(env, svc)) - known - NOT_OURS)
    assert not unknown, f"{svc} ignores {unknown}"


@pytest.mark.parametrize(("env", "svc"), CASES)
def test_the_service_starts_with_its_pod_environment(
    env: str, svc: str, pod_env: pytest.MonkeyPatch
) -> None:
    variables = _pod_environment(env, svc)
    for key, value in variables.items():
        pod_env.setenv(key, value)
    settings = spec_of(svc).settings()
    assert settings.service_name == svc
    assert settings.storage_profile == "postgres"  # `local` refuses to run split
    assert settings.nats_url == variables["RAGAPI_NATS_URL"]
    assert settings.admin_token.get_secret_value()
    assert settings.secret_key.get_secret_value()
    # Its own NATS user; the URL carries no shared credentials.
    assert settings.nats_user == svc
    assert settings.nats_password.get_secret_value()
    assert "@" not in settings.nats_url
    if settings.vector_store == "qdrant" and svc in ("ingest", "query"):
        # The services that keep vectors reach the in-namespace server with its key.
        assert settings.qdrant_url == "http://qdrant:6333"
        assert settings.qdrant_api_key.get_secret_value()


def _otel(env: str) -> dict[str, str]:
    (config,) = [
        o
        for o in overlay(env)
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].rsplit("-", 1)[0] == "ragapi-otel"
    ]
    return dict(config["data"])


@pytest.mark.parametrize("env", ALL_OVERLAYS)
def test_the_otel_variables_are_what_the_tracing_adapter_reads(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base leaves tracing off; prod turns it on with an OTLP/HTTP collector."""
    variables = _otel(env)
    assert all(key.startswith("OTEL_") for key in variables)
    for key in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    exporter = tracing._exporter_from(os.environ)
    if env != "prod":
        assert exporter is None
        return
    assert exporter is not None
    endpoint = variables["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert exporter._endpoint == endpoint + "/v1/traces"
    exporter.shutdown()

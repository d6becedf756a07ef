"""The Dockerfile: one target per service, each installing only the extras it needs, and
running the same command as its Deployment."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from tests.deploy.dockerfile import DOCKERFILE, exec_form, lineage, parse, pip_extras
from tests.deploy.manifests import ROOT, SERVICES, container, one, overlay

# The cluster runs the `postgres` storage profile, so LightRAG's services carry asyncpg; and
# qdrant-client, for RAGAPI_VECTOR_STORE=qdrant (components/qdrant).
EXTRAS = {
    "tenants": set(),
    "ingest": {"rag", "postgres", "qdrant"},
    "ocr": {"ocr"},
    "query": {"rag", "postgres", "qdrant"},
}
NEVER_IN_AN_IMAGE = {"embedded", "dev", "all"}


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _installed_extras(target: str) -> set[str]:
    """The extras of the virtualenv the target copies in (COPY --from=<stage> /opt/venv)."""
    stages = parse()
    copies = [
        args
        for stage in lineage(stages, target)
        for args in stage.all("COPY")
        if args.startswith("--from=") and args.split()[-1] == "/opt/venv"
    ]
    assert len(copies) == 1, f"{target} copies one virtualenv: {copies}"
    source = copies[0].split()[0].removeprefix("--from=")
    installs = [
        extras
        for stage in lineage(stages, source)
        for run in stage.all("RUN")
        if (extras := pip_extras(run)) is not None
    ]
    assert len(installs) == 1, f"{source} installs the project once: {installs}"
    return installs[0]


@pytest.mark.parametrize("svc", SERVICES)
def test_each_target_installs_only_its_extras(svc: str) -> None:
    assert _installed_extras(svc) == EXTRAS[svc]


def test_extras_named_exist_and_dev_tools_stay_out() -> None:
    declared = set(_pyproject()["project"]["optional-dependencies"])  # type: ignore[index]
    for extras in EXTRAS.values():
        assert extras <= declared
        assert not extras & NEVER_IN_AN_IMAGE
    assert {"rag", "ocr", "postgres", "embedded"} <= declared


def test_postgres_extra_carries_what_lightrag_would_pip_install_at_run_time() -> None:
    """LightRAG's PostgreSQL storage pip-installs asyncpg and pgvector when they are missing;
    an offline pod with a read-only root cannot, so the image must already hold them."""
    extra = _pyproject()["project"]["optional-dependencies"]["postgres"]  # type: ignore[index]
    names = {requirement.split("==")[0].split("[")[0] for requirement in extra}
    assert {"asyncpg", "pgvector"} <= names


@pytest.mark.parametrize("svc", SERVICES)
def test_image_command_is_the_deployment_command(svc: str) -> None:
    stages = parse()
    chain = lineage(stages, svc)
    entrypoint = next(exec_form(a) for s in chain for a in reversed(s.all("ENTRYPOINT")))
    cmd = next(exec_form(a) for s in chain for a in reversed(s.all("CMD")))
    for env in ("dev", "prod"):
        deployment = one(overlay(env), "Deployment", f"ragapi-{svc}")
        assert entrypoint + cmd == container(deployment)["command"]
    scripts = _pyproject()["project"]["scripts"]  # type: ignore[index]
    assert entrypoint[0] in scripts


@pytest.mark.parametrize("svc", SERVICES)
def test_image_runs_as_the_pod_user(svc: str) -> None:
    chain = lineage(parse(), svc)
    user = next(a for s in chain for a in reversed(s.all("USER")))
    uid, _, gid = user.partition(":")
    pod = one(overlay("prod"), "Deployment", f"ragapi-{svc}")["spec"]["template"]["spec"]
    assert int(uid) == pod["securityContext"]["runAsUser"] != 0
    assert int(gid) == pod["securityContext"]["runAsGroup"]
    assert any("8000" in a for s in chain for a in s.all("EXPOSE"))


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "the context is an allow-list"
    for stage in parse().values():
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _ = args.split()
            for source in sources:
                assert source.rstrip("/") in allowed, source
                assert (ROOT / source).exists(), source


def test_hadolint_is_clean() -> None:
    hadolint = f"{sys.prefix}/bin/hadolint"
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr

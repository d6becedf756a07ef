"""Each image's virtualenv holds the base plus its extras only (see the Dockerfile). Here the
modules that only the other extras bring are made unimportable, and the service is imported
as ``ragapi serve`` imports it: whatever it needs beyond its extras fails here, not in a pod."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.deploy.isolation import blocked_modules
from tests.deploy.manifests import ROOT, SERVICES
from tests.deploy.test_images import EXTRAS

EVERY_EXTRA = ("rag", "ocr", "postgres", "qdrant", "embedded", "dev")


def test_the_other_extras_are_really_blocked() -> None:
    """The check would prove nothing if the heavy modules were not in the blocked set."""
    blocked = set(blocked_modules(EXTRAS["tenants"], EVERY_EXTRA))
    assert {"lightrag", "fitz", "rapidocr", "asyncpg", "numpy", "yaml", "pytest"} <= blocked
    assert not {"nats", "redis", "starlette", "pydantic", "uvicorn"} & blocked
    assert "lightrag" not in blocked_modules(EXTRAS["query"], EVERY_EXTRA)


@pytest.mark.parametrize("svc", SERVICES)
def test_service_imports_with_only_its_extras(svc: str) -> None:
    blocked = blocked_modules(EXTRAS[svc], EVERY_EXTRA)
    done = subprocess.run(
        [sys.executable, "-m", "tests.deploy.isolation", svc, json.dumps(blocked)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(failures)

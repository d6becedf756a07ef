"""The CLI caps glibc's malloc arenas unless the environment already does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ragapi_cli.arenas import limit_malloc_arenas


def test_the_cap_applies_on_glibc_and_yields_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")
    probe = "from ragapi_cli.arenas import limit_malloc_arenas; print(limit_malloc_arenas())"
    command = [sys.executable, "-c", probe]
    applied = subprocess.run(command, capture_output=True, text=True, check=True, env={})
    assert applied.stdout.strip() == "True"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False

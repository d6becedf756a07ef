"""A whole ``ragapi up`` and the fake model provider as child processes, for tests whose
client is synchronous (schemathesis, a browser driven by Playwright).

Such a client cannot share the test's thread with the stack it calls, so both run as
processes: :func:`running_stack` starts them, reads the banner, waits for ``/readyz`` and
stops them on exit.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.cli.stack import BANNER_TIMEOUT_S, READY_TIMEOUT_S, cli_env
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
_LINE = re.compile(r"^(admin token|default tenant API key):? (\S+)")


@dataclass(frozen=True)
class Stack:
    url: str
    admin_token: str
    tenant_key: str
    work: Path  # up.log and provider.log


def _provider(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.support.fake_provider", "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/v1"


def _banner(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The admin token and the default tenant's key from ``ragapi up``'s stdout."""
    assert proc.stdout is not None
    found: dict[str, str] = {}
    deadline = time.monotonic() + BANNER_TIMEOUT_S
    while len(found) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("ragapi up exited before its banner")
        if match := _LINE.match(line.strip()):
            found[match.group(1)] = match.group(2)
    return found


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


def _stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_stack(work: Path, **env_extra: str) -> Iterator[Stack]:
    """``ragapi up`` on a free port with the fake provider as its LLM and embedder; logs go
    to ``work`` (``up.log``, ``provider.log``)."""
    provider, provider_url = _provider(work / "provider.log")
    port = free_port()
    env = cli_env(
        RAGAPI_LLM_BASE_URL=provider_url,
        RAGAPI_LLM_MODEL="fake-llm",
        RAGAPI_LLM_API_KEY="sk-fake",
        RAGAPI_EMBEDDING_BASE_URL=provider_url,
        RAGAPI_EMBEDDING_MODEL="fake-embedding",
        RAGAPI_EMBEDDING_DIM="64",
        RAGAPI_QUERIES_PER_MINUTE="1000000",
        **env_extra,
    )
    cmd = [sys.executable, "-m", "ragapi_cli", "up", "--port", str(port)]
    cmd += ["--data-dir", str(work / "data")]
    with (work / "up.log").open("ab") as log:
        up = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    try:
        banner = _banner(up)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        yield Stack(url, banner["admin token"], banner["default tenant API key"], work)
    finally:
        _stop(up)
        _stop(provider)
        assert up.stdout is not None
        up.stdout.close()

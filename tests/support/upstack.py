"""A whole ``ragapi up`` and the fake model provider as child processes, for a test package.

Started once per package (schemathesis, the bad-input cases, the soak): the stack serves on
its own port with a fake OpenAI-compatible provider for the LLM and the embeddings, and
stops with SIGTERM (SIGKILL after a minute) when the package is done.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ragapi_cli.state import DEFAULT_TENANT_MARKER
from tests.cli.stack import BANNER_TIMEOUT_S, READY_TIMEOUT_S, cli_env
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
_LINE = re.compile(r"^(admin token|default tenant API key):? (\S+)")


@dataclass(frozen=True)
class Stack:
    url: str
    admin_token: str
    tenant_key: str  # "" when the data directory had its default tenant already
    pid: int
    log: Path


@contextmanager
def _child(cmd: list[str], **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    proc: subprocess.Popen[str] = subprocess.Popen(cmd, cwd=ROOT, text=True, **kwargs)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _banner(proc: subprocess.Popen[str], wanted: set[str]) -> dict[str, str]:
    """The ``wanted`` lines of ``ragapi up``'s banner (its stdout)."""
    assert proc.stdout is not None
    found: dict[str, str] = {}
    deadline = time.monotonic() + BANNER_TIMEOUT_S
    while not wanted <= set(found) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("ragapi up exited before its banner")
        if match := _LINE.match(line.strip()):
            found[match.group(1)] = match.group(2)
    return found


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


@contextmanager
def running_stack(
    work: Path, *, args: tuple[str, ...] = (), default_key: bool | None = None, **env: str
) -> Iterator[Stack]:
    """``ragapi up`` under ``work`` with the fake provider; ``env`` adds RAGAPI_* settings.
    ``default_key``: whether the banner prints a default tenant's key (by default: when the
    data directory has none yet; not when its Redis already holds one)."""
    provider_port, port = free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}/v1"
    settings = {
        "RAGAPI_LLM_BASE_URL": provider_url,
        "RAGAPI_LLM_MODEL": "fake-llm",
        "RAGAPI_LLM_API_KEY": "sk-fake",
        "RAGAPI_EMBEDDING_BASE_URL": provider_url,
        "RAGAPI_EMBEDDING_MODEL": "fake-embedding",
        "RAGAPI_EMBEDDING_DIM": "64",
        "RAGAPI_QUERIES_PER_MINUTE": "1000000",
        **env,
    }
    cmd = [sys.executable, "-m", "ragapi_cli", "up", "--port", str(port)]
    cmd += ["--data-dir", str(work / "data"), *args]
    provider_cmd = [sys.executable, "-m", "tests.support.fake_provider"]
    provider_cmd += ["--port", str(provider_port)]
    wanted = {"admin token"}
    if default_key is None:
        default_key = not (work / "data" / DEFAULT_TENANT_MARKER).exists()
    if default_key:
        wanted.add("default tenant API key")  # created, and its key printed, the first time
    with ExitStack() as stack:
        plog = stack.enter_context((work / "provider.log").open("ab"))
        stack.enter_context(_child(provider_cmd, stdout=plog, stderr=subprocess.STDOUT))
        log = stack.enter_context((work / "up.log").open("ab"))
        up = stack.enter_context(
            _child(cmd, stdout=subprocess.PIPE, stderr=log, env=cli_env(**settings))
        )
        banner = _banner(up, wanted)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield Stack(
            url,
            banner["admin token"],
            banner.get("default tenant API key", ""),
            up.pid,
            work / "up.log",
        )

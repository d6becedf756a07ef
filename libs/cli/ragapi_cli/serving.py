"""Serve an ASGI app with uvicorn inside the current event loop, stopping on SIGINT/SIGTERM.

uvicorn's own signal capture re-raises the signal once it has stopped (the
process would then die of it, not exit 0), so signals are handled here: the
first one begins the process's :class:`~ragapi_common.shutdown.Shutdown` (one
grace period from the signal to the exit) and makes the server stop accepting
and finish in-flight requests; a second one hurries it: nothing waits any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from ragapi_common.shutdown import WORK_SHARE, Shutdown

from .protocol import timed_protocol

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # handled by :class:`Stopper`

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class Stopper:
    """Turns SIGINT/SIGTERM into a graceful stop of whatever runs now.

    Before the server runs (start-up) a signal cancels the main task, so the
    exit stacks unwind and every child is stopped. Once it has run, the first
    signal begins :attr:`shutdown` and asks uvicorn to stop; a second one
    hurries both (uvicorn stops waiting for requests, workers hand their jobs
    back at once); a third cancels the main task.
    """

    def __init__(self, grace_s: float) -> None:
        self.shutdown = Shutdown(grace_s)
        self.server: uvicorn.Server | None = None
        self.serving = False  # set once serve() began: signals stop, not unwind a start-up
        self.requested = False
        self._main = asyncio.current_task()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Stopper]:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield self
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.requested = True
        server = self.server
        if self.serving and not self.shutdown.begun:
            log.info("received %s, shutting down", sig.name)
            self.shutdown.begin()
            if server is not None:
                server.should_exit = True  # stop accepting, finish in-flight requests
        elif self.serving and not self.shutdown.hurried:
            log.info("received %s again, stopping without waiting", sig.name)
            self.shutdown.hurry()
            if server is not None:
                server.force_exit = True  # stop waiting for in-flight requests
        elif self._main is not None:
            log.info("received %s, stopping now", sig.name)
            self._main.cancel()  # starting up (or a third signal): unwind now


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before serving so a taken port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so;
    # without it each response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    stopper: Stopper,
    *,
    on_started: Callable[[], Awaitable[None]] | None = None,
    read_timeout_s: float = 30.0,
) -> None:
    """Serve until a signal; ``on_started`` runs once the socket accepts connections.
    A client silent for ``read_timeout_s`` in the middle of a request is cut off.

    In-flight requests get the work share of the grace period (jobs get the same
    share at the same time); the rest is for the services to stop.
    """
    config = uvicorn.Config(
        app,
        lifespan="off",  # the caller runs the apps' lifespans around this call
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, round(stopper.shutdown.grace_s * WORK_SHARE)),
        proxy_headers=False,
        http=timed_protocol(read_timeout_s),
    )
    server = _Server(config)
    stopper.server = server
    stopper.serving = True
    watcher = asyncio.create_task(_after_start(server, on_started), name="after-start")
    try:
        await server.serve(sockets=[sock])
    finally:
        stopper.server = None
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        sock.close()


async def _after_start(server: _Server, on_started: Callable[[], Awaitable[None]] | None) -> None:
    await server.listening.wait()
    if on_started is not None:
        try:
            await on_started()
        except Exception:
            log.exception("the start-up announcement failed")

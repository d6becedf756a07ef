"""``ragapi serve <service>``: one service app on its own port (one container per service).

The ``local`` storage profile keeps LightRAG's files in this process's memory
and data directory, so ingest and query must share one process: started
alone, they refuse to run unless ``RAGAPI_ALLOW_SPLIT_LOCAL=1``.
"""

from __future__ import annotations

import contextlib
import logging

from ragapi_cli.gateway import Mounted
from ragapi_cli.lifespan import LifespanRunner
from ragapi_cli.services import open_rag_registry, spec_of
from ragapi_cli.serving import Stopper, bind, serve
from ragapi_cli.settings import CliSettings
from ragapi_cli.workers import announce_ready, inherited, tag
from ragapi_common.logs import configure_logging
from ragapi_common.metrics import Metrics

log = logging.getLogger(__name__)


async def _worker_ready() -> None:
    announce_ready()


async def run_serve(
    service: str, host: str, port: int, worker_fd: int | None = None, worker_index: int = 0
) -> int:
    """Serve one service until SIGINT/SIGTERM; 0 after a clean shutdown. With ``worker_fd``:
    as a worker of ``--workers N`` on the socket its parent bound."""
    spec = spec_of(service)
    cli = CliSettings()
    if spec.uses_rag:
        cli.refuse_split_local(service)
    settings = spec.settings()
    configure_logging(settings.service_name, settings.log_level, json_lines=settings.log_json)
    metrics = Metrics()
    sock = inherited(worker_fd) if worker_fd is not None else bind(host, port)
    with contextlib.closing(sock), Stopper(settings.shutdown_grace_s).installed() as stopper:
        async with contextlib.AsyncExitStack() as stack:
            rag = None
            if spec.uses_rag:
                rag = open_rag_registry(settings, metrics)
                stack.push_async_callback(rag.close)
            app = spec.create_app(settings, metrics=metrics, rag=rag, shutdown=stopper.shutdown)
            runner = LifespanRunner(app, spec.name)
            await runner.startup()
            stack.push_async_callback(runner.shutdown)
            mounted = Mounted(spec.name, app, prefixes=(), state=runner.state)
            log.info("serving %s on %s:%d", spec.name, host, sock.getsockname()[1])
            if worker_fd is None:
                await serve(mounted, sock, stopper, read_timeout_s=settings.http_read_timeout_s)
            else:
                tagged = tag(mounted, worker_index, metrics)
                await serve(
                    tagged,
                    sock,
                    stopper,
                    on_started=_worker_ready,
                    read_timeout_s=settings.http_read_timeout_s,
                )
    return 0

"""The parent of ``ragapi up --workers N`` and ``ragapi serve <service> --workers N``.

It binds the port, runs what is single (embedded NATS, Redis and, for the
``postgres`` profile without a DSN, PostgreSQL), starts and supervises the
workers (:mod:`ragapi_cli.workers`), prints the banner once they all serve,
and waits for SIGINT/SIGTERM; then it stops the workers before the servers
they use. Every worker gets the servers' URLs in its environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from ragapi_cli.serving import Stopper, bind
from ragapi_cli.settings import CliSettings
from ragapi_cli.up import (
    UpOptions,
    announce_up,
    public_url,
    start_servers,
    up_credentials,
    up_settings,
)
from ragapi_cli.workers import listening, refuse_local, running_workers
from ragapi_common.logs import configure_logging
from ragapi_common.metrics import Metrics

log = logging.getLogger(__name__)

#: Beyond the workers' grace period, before the parent kills one that overstays.
_STOP_MARGIN_S = 5.0


def shared_settings(env: CliSettings, workers: int) -> CliSettings:
    """``postgres`` unless a profile was chosen; ``local`` is refused."""
    if not env.given("storage_profile"):
        env = env.model_copy(update={"storage_profile": "postgres"})
    refuse_local(env.storage_profile, workers)
    return env


async def run_up_parent(options: UpOptions) -> int:
    env = shared_settings(up_settings(options), options.workers)
    configure_logging("ragapi", env.log_level, json_lines=env.log_json)
    data_dir = env.data_dir.absolute()
    creds = await up_credentials(env, data_dir)  # generated and saved here, read by workers
    sock = listening(bind(options.host, options.port))
    with contextlib.closing(sock), Stopper(env.shutdown_grace_s).installed() as stopper:
        async with contextlib.AsyncExitStack() as stack:
            child_env, own_nats = await _servers(stack, env, data_dir, options.workers)
            argv = ["up", "--host", options.host, "--port", str(options.port)]
            argv += ["--data-dir", str(data_dir)] + (["--worker-own-nats"] if own_nats else [])
            grace = env.shutdown_grace_s + _STOP_MARGIN_S
            await stack.enter_async_context(
                running_workers(sock, argv, options.workers, child_env, grace=grace)
            )
            stopper.serving = True  # a signal now stops the workers, then the servers
            url = public_url(options.host, sock.getsockname()[1])
            events = child_env["RAGAPI_NATS_URL"] if own_nats else None
            await announce_up(None, url, data_dir, creds, events)
            await stopper.shutdown.wait_begun()
            log.info("stopping %d workers", options.workers)
    log.info("ragapi stopped")
    return 0


async def _servers(
    stack: contextlib.AsyncExitStack, env: CliSettings, data: Path, workers: int
) -> tuple[dict[str, str], bool]:
    """The embedded servers started; the workers' environment, whether NATS is ragapi's."""
    # Restarts are counted in the log only: the parent serves no HTTP.
    endpoints, _ = await start_servers(stack, env, data, workers, Metrics())
    child_env = dict(os.environ)
    child_env.update(
        RAGAPI_NATS_URL=endpoints.nats_url,
        RAGAPI_REDIS_URL=endpoints.redis_url,
        RAGAPI_STORAGE_PROFILE=env.storage_profile,
        RAGAPI_DATA_DIR=str(data),
    )
    if endpoints.postgres_dsn:
        child_env["RAGAPI_POSTGRES_DSN"] = endpoints.postgres_dsn
    return child_env, not (env.given("nats_url") and env.nats_url)


async def run_serve_parent(service: str, host: str, port: int, workers: int) -> int:
    """``workers`` copies of ``ragapi serve <service>`` on one port (no embedded servers)."""
    from ragapi_cli.services import spec_of

    env = CliSettings()
    if spec_of(service).uses_rag:
        refuse_local(env.storage_profile, workers)
    configure_logging("ragapi", env.log_level, json_lines=env.log_json)
    sock = listening(bind(host, port))
    with contextlib.closing(sock), Stopper(env.shutdown_grace_s).installed() as stopper:
        argv = ["serve", service, "--host", host, "--port", str(port)]
        grace = env.shutdown_grace_s + _STOP_MARGIN_S
        async with running_workers(sock, argv, workers, dict(os.environ), grace=grace):
            stopper.serving = True
            log.info("serving %s with %d workers on %s:%d", service, workers, host, port)
            await stopper.shutdown.wait_begun()
    return 0

"""``ragapi up``: NATS, Redis and the four services in one process behind one port.

Start-up: every service imported (one that does not import stops it with
that ImportError), credentials (generated and saved when unset), embedded servers
(when no URL is given), one LightRAG registry shared by ingest and query,
the services' lifespans, then uvicorn. Shutdown runs the same steps in
reverse: stop accepting and finish in-flight requests, stop the services
(workers, NATS drain, pools), close the registry, stop the child servers.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ragapi_cli import nats_auth
from ragapi_cli.embedded import Endpoints, embedded_servers
from ragapi_cli.gateway import Gateway, Mounted
from ragapi_cli.services import SERVICES, ServiceSpec, import_service, open_rag_registry
from ragapi_cli.serving import Stopper, bind, serve
from ragapi_cli.settings import CliSettings
from ragapi_cli.state import (
    Credentials,
    default_tenant_done,
    load_credentials,
    mark_default_tenant_done,
)
from ragapi_cli.workers import announce_ready, inherited, tag
from ragapi_common.logs import configure_logging
from ragapi_common.metrics import Metrics
from ragapi_common.shutdown import Shutdown

log = logging.getLogger(__name__)

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class UpOptions:
    host: str
    port: int
    data_dir: Path | None  # None: RAGAPI_DATA_DIR, else ./data
    workers: int = 1
    worker_fd: int | None = None  # a worker of ``--workers N``: serve this inherited socket
    worker_index: int = 0
    worker_own_nats: bool = False  # a worker whose parent runs NATS (with ragapi's users)


def say(text: str) -> None:
    """What the person at the terminal reads (logs go to stderr)."""
    print(text, flush=True)


def up_settings(options: UpOptions) -> CliSettings:
    return CliSettings(data_dir=options.data_dir) if options.data_dir else CliSettings()


async def run_up(options: UpOptions) -> int:
    """Run everything until SIGINT/SIGTERM; 0 after a clean shutdown."""
    env = up_settings(options)
    configure_logging("ragapi", env.log_level, json_lines=env.log_json)
    services = _import_services()  # before anything is written or started
    data_dir = env.data_dir.absolute()
    creds = await up_credentials(env, data_dir)
    worker = options.worker_fd is not None
    sock = (
        inherited(options.worker_fd)
        if options.worker_fd is not None
        else bind(options.host, options.port)
    )
    with contextlib.closing(sock), Stopper(env.shutdown_grace_s).installed() as stopper:
        async with contextlib.AsyncExitStack() as stack:
            metrics = Metrics()  # one registry: the services' and the embedded servers' restarts
            overrides, own = await _backing_services(stack, env, data_dir, creds, metrics, options)
            gateway = _build_gateway(services, overrides, own, stack, stopper.shutdown, metrics)
            await stack.enter_async_context(gateway.running())
            # Each service set up logging under its own name; this process is all of them.
            configure_logging("ragapi", env.log_level, json_lines=env.log_json)
            if worker:
                app, announce = tag(gateway, options.worker_index, metrics), _worker_ready
            else:
                url = public_url(options.host, sock.getsockname()[1])
                events = overrides["nats_url"] if own else None  # ragapi's own NATS, with users
                transport = httpx.ASGITransport(app=gateway)
                announce = functools.partial(announce_up, transport, url, data_dir, creds, events)
                app = gateway
            await serve(
                app, sock, stopper, on_started=announce, read_timeout_s=env.http_read_timeout_s
            )
            log.info("server stopped; stopping services")
    log.info("ragapi stopped")
    return 0


async def up_credentials(env: CliSettings, data_dir: Path) -> Credentials:
    return await load_credentials(
        data_dir,
        admin_token=env.admin_token.get_secret_value(),
        secret_key=env.secret_key.get_secret_value(),
    )


async def _worker_ready() -> None:
    announce_ready()


def postgres_connections(env: CliSettings, workers: int) -> int:
    """``max_connections`` of an embedded PostgreSQL; 0: none (not the profile, or a DSN)."""
    if env.storage_profile != "postgres" or env.given("postgres_dsn"):
        return 0
    return workers * env.postgres_max_connections + 20


async def _backing_services(
    stack: contextlib.AsyncExitStack,
    env: CliSettings,
    data_dir: Path,
    creds: Credentials,
    metrics: Metrics,
    options: UpOptions,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Embedded NATS/Redis/PostgreSQL (supervised) where no URL is given; the settings every
    service then gets, and each service's own (its NATS user, when ragapi runs NATS)."""
    endpoints, own = await start_servers(
        stack, env, data_dir, options.workers, metrics, options.worker_own_nats
    )
    extra = {"postgres_dsn": endpoints.postgres_dsn} if endpoints.postgres_dsn else {}
    return {
        **extra,
        "nats_url": endpoints.nats_url,
        "redis_url": endpoints.redis_url,
        "data_dir": data_dir,
        "admin_token": creds.admin_token,
        "secret_key": creds.secret_key,
        # No OCR process until the first OCR job: a laptop that never OCRs never pays for
        # them (docs/decisions/0502-memory.md). A cluster's OCR service warms up at start.
        "ocr_warm_up": False,
    }, own


async def start_servers(
    stack: contextlib.AsyncExitStack,
    env: CliSettings,
    data_dir: Path,
    workers: int,
    metrics: Metrics,
    parents_nats: bool = False,
) -> tuple[Endpoints, dict[str, dict[str, Any]]]:
    """The servers ragapi runs where no URL is given (supervised, on ``stack``), and each
    service's own NATS user."""
    nats_url, nats_config, own = await nats_setup(env, data_dir, parents_nats)
    endpoints = await stack.enter_async_context(
        embedded_servers(
            data_dir,
            nats_url=nats_url,
            redis_url=env.redis_url if env.given("redis_url") and env.redis_url else None,
            grace=env.shutdown_grace_s,
            nats_config=nats_config,
            registry=metrics.registry,
            postgres_connections=postgres_connections(env, workers),
        )
    )
    return endpoints, own


async def nats_setup(
    env: CliSettings, data_dir: Path, parents_nats: bool = False
) -> tuple[str | None, Path | None, dict[str, dict[str, Any]]]:
    """The NATS URL given (None: ragapi runs NATS), the server's config file (its users)
    and each service's own user; ``parents_nats``: a worker on its parent's NATS."""
    nats_url = env.nats_url if env.given("nats_url") and env.nats_url else None
    if nats_url is None:
        passwords = await nats_auth.load_passwords(data_dir)
        config = await nats_auth.write_server_config(data_dir, passwords)
        return None, config, nats_auth.service_settings(passwords)
    if parents_nats:  # the parent runs NATS with these users
        return nats_url, None, nats_auth.service_settings(await nats_auth.load_passwords(data_dir))
    return nats_url, None, {}


class ServiceImportError(ImportError):
    """A service does not import (its package or an extra it needs is missing or broken)."""


def _import_services() -> list[ServiceSpec]:
    """Every service, imported; ``ragapi up`` runs all of them or refuses to start."""
    for spec in SERVICES:
        try:
            import_service(spec)
        except ImportError as exc:
            # Raised, not logged: a stack without one of its services is not "up".
            raise ServiceImportError(
                f"service {spec.name} cannot be imported: {type(exc).__name__}: {exc}"
            ) from exc
    return list(SERVICES)


def _build_gateway(
    specs: list[ServiceSpec],
    overrides: dict[str, Any],
    own: dict[str, dict[str, Any]],
    stack: contextlib.AsyncExitStack,
    shutdown: Shutdown,
    metrics: Metrics,
) -> Gateway:
    """One Metrics for all apps; one LightRAG registry shared by ingest and query; each
    service with its ``own`` settings on top (its NATS user)."""
    rag = None
    rag_users = [spec for spec in specs if spec.uses_rag]
    if rag_users:
        rag = open_rag_registry(rag_users[0].settings(**overrides), metrics)
        stack.push_async_callback(rag.close)
    mounted = []
    for spec in specs:
        settings = spec.settings(**overrides, **own.get(spec.name, {}))
        app = spec.create_app(settings, metrics=metrics, rag=rag, shutdown=shutdown)
        mounted.append(Mounted(spec.name, app, spec.prefixes))
    return Gateway(mounted, metrics=metrics)


def public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a comparison
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


async def announce_up(
    transport: httpx.AsyncBaseTransport | None,
    url: str,
    data_dir: Path,
    creds: Credentials,
    nats_url: str | None,
) -> None:
    """The banner; the default tenant created (in-process, or over ``url`` without
    ``transport``) the first time."""
    say(f"ragapi is up at {url}  (API: {url}/openapi.json, ready: {url}/readyz)")
    saved = f"saved in {data_dir / 'secrets.json'}" if creds.generated else "from the data dir"
    say(f"admin token: {creds.admin_token}  ({saved} unless RAGAPI_ADMIN_TOKEN is set)")
    if nats_url is not None:
        users = data_dir / nats_auth.USERS_FILE
        say(f"events: nats sub 'ragapi.events.>' -s {nats_url} --user debug  (password: {users})")
    if await default_tenant_done(data_dir):
        return
    api_key = await _create_default_tenant(transport, url, creds.admin_token)
    await mark_default_tenant_done(data_dir)
    if api_key is None:
        say(f"tenant {DEFAULT_TENANT!r} already exists")
        return
    say(f"default tenant: {DEFAULT_TENANT}")
    say(f"default tenant API key: {api_key}  (shown once: keep it, it is stored only hashed)")


async def _create_default_tenant(
    transport: httpx.AsyncBaseTransport | None, url: str, admin_token: str
) -> str | None:
    """POST the tenant (through ``transport``, else ``url``); None when it exists already."""
    headers = {"authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url=url, headers=headers, timeout=30
    ) as client:
        body = {"id": DEFAULT_TENANT, "name": "Default tenant", "config": {}}
        answer = await client.post("/v1/tenants", json=body)
    if answer.status_code == 409:
        return None
    answer.raise_for_status()
    key: str = answer.json()["api_key"]
    return key

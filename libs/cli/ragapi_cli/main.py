"""``ragapi``: the command line. The only place that starts an event loop (:mod:`.loop`).

Exit codes: 0 ok; 1 an error (the server's message is printed); 130 stopped
by a signal during start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ragapi_cli import admin, ask, ingest, loop
from ragapi_cli.arenas import limit_malloc_arenas
from ragapi_cli.client import ApiError
from ragapi_cli.embedded import EmbeddedServerError
from ragapi_cli.lifespan import LifespanFailed
from ragapi_cli.services import SERVICE_NAMES
from ragapi_cli.settings import CliSettings, SplitLocalStorage
from ragapi_cli.workers import WorkersNeedSharedStorage

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
_FAILURES = (
    ApiError,
    EmbeddedServerError,
    LifespanFailed,
    SplitLocalStorage,
    WorkersNeedSharedStorage,
    OSError,
    ValueError,
    ValidationError,
)


async def _up(args: argparse.Namespace) -> int:
    from ragapi_cli.up import UpOptions, run_up  # the server side: not for client commands

    options = UpOptions(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        workers=args.workers,
        worker_fd=args.worker_fd,
        worker_index=args.worker_index,
        worker_own_nats=args.worker_own_nats,
    )
    if options.workers > 1 and options.worker_fd is None:
        from ragapi_cli.parent import run_up_parent

        return await run_up_parent(options)
    return await run_up(options)


async def _serve(args: argparse.Namespace) -> int:
    if args.workers > 1 and args.worker_fd is None:
        from ragapi_cli.parent import run_serve_parent

        return await run_serve_parent(args.service, args.host, args.port, args.workers)
    from ragapi_cli.serve import run_serve

    return await run_serve(args.service, args.host, args.port, args.worker_fd, args.worker_index)


def _workers_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=_positive, default=1, help="processes serving the port (default 1)"
    )
    # Set by the parent of --workers N on each worker's command line only.
    parser.add_argument("--worker-fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser(env: CliSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragapi", description="multi-tenant async RAG API")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run every service, NATS and Redis on one port")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--data-dir", default=None, help="default: RAGAPI_DATA_DIR, else ./data")
    _workers_options(up)
    up.add_argument("--worker-own-nats", action="store_true", help=argparse.SUPPRESS)
    up.set_defaults(handler=_up)

    serve = commands.add_parser("serve", help="run one service (one container per service)")
    serve.add_argument("service", choices=SERVICE_NAMES)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    _workers_options(serve)
    serve.set_defaults(handler=_serve)

    url_help = "the ragapi URL (RAGAPI_URL)"
    admin_common = argparse.ArgumentParser(add_help=False)
    admin_common.add_argument("--url", default=env.url, help=url_help)
    admin_common.add_argument(
        "--admin-token", default=env.admin_token.get_secret_value(), help="(RAGAPI_ADMIN_TOKEN)"
    )
    tenant_common = argparse.ArgumentParser(add_help=False)
    tenant_common.add_argument("--url", default=env.url, help=url_help)
    tenant_common.add_argument(
        "--tenant-key", default=env.tenant_key.get_secret_value(), help="(RAGAPI_TENANT_KEY)"
    )
    admin.add_parsers(commands, admin_common)
    ingest.add_parser(commands, tenant_common)
    ask.add_parser(commands, tenant_common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        env = CliSettings()
    except ValidationError as exc:
        print(f"ragapi: invalid RAGAPI_* environment: {exc}", file=sys.stderr)
        return 1
    args = build_parser(env).parse_args(argv)
    handler: Handler = args.handler
    limit_malloc_arenas()
    try:
        # The console script's entry point starts the process's one event loop; no loop runs
        # yet, so this is not a sync bridge (services and libs never call asyncio.run).
        return loop.run(handler(args), env.event_loop)
    except _FAILURES as exc:
        print(f"ragapi: {exc}", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("ragapi: interrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        # Everything is closed; the interpreter's last garbage collections would only walk
        # the objects LightRAG and the tokenizer left: 1.5-5 s of exit (py-spy), for nothing.
        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())

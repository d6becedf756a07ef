"""``ragapi tenants ...`` and ``ragapi keys ...``: the admin side of the contract over HTTP."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ragapi_cli.client import api_client, call


def show(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)


async def tenants_command(args: argparse.Namespace) -> int:
    async with api_client(args.url, args.admin_token) as client:
        if args.action == "create":
            body: dict[str, Any] = {"id": args.id, "name": args.name or args.id}
            if args.config:
                body["config"] = json.loads(args.config)
            show(await call(client, "POST", "/v1/tenants", json=body))
        elif args.action == "list":
            show(await call(client, "GET", "/v1/tenants"))
        elif args.action == "get":
            show(await call(client, "GET", f"/v1/tenants/{args.id}"))
        elif args.action == "delete":
            await call(client, "DELETE", f"/v1/tenants/{args.id}")
            print(f"tenant {args.id} deleted; its data is being purged", flush=True)
    return 0


async def keys_command(args: argparse.Namespace) -> int:
    async with api_client(args.url, args.admin_token) as client:
        base = f"/v1/tenants/{args.tenant}/keys"
        if args.action == "create":
            show(await call(client, "POST", base))
        elif args.action == "list":
            show(await call(client, "GET", base))
        elif args.action == "revoke":
            await call(client, "DELETE", f"{base}/{args.key_id}")
            print(f"key {args.key_id} of {args.tenant} revoked", flush=True)
    return 0


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """``tenants`` and ``keys`` sub-commands; ``common`` carries --url and --admin-token."""
    tenants = commands.add_parser("tenants", help="create, list, get or delete tenants")
    actions = tenants.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", parents=[common], help="create a tenant, print its key")
    create.add_argument("id")
    create.add_argument("--name", default="")
    create.add_argument("--config", default="", help="the tenant config as JSON")
    actions.add_parser("list", parents=[common], help="list tenants")
    for action in ("get", "delete"):
        actions.add_parser(action, parents=[common], help=f"{action} a tenant").add_argument("id")
    tenants.set_defaults(handler=tenants_command)

    keys = commands.add_parser("keys", help="create, list or revoke a tenant's API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    for action in ("create", "list"):
        actions.add_parser(action, parents=[common], help=f"{action} keys").add_argument("tenant")
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key")
    revoke.add_argument("tenant")
    revoke.add_argument("key_id")
    keys.set_defaults(handler=keys_command)

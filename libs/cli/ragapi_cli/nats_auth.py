"""NATS users for ``ragapi up``'s embedded server, and the server config that defines them.

One user per service plus ``debug`` (read-only events), with the permissions of
:mod:`ragapi_common.contracts.access`. Passwords are generated once into
``<data-dir>/nats-users.json`` (mode 0600) and reused on every start; the server
config is rendered again on each start into ``<data-dir>/nats/ragapi-auth.conf``
(0600) and handed to ``nats-server -c``. Nothing here is logged.

``python -m ragapi_cli.nats_auth --k8s`` prints the same config with each password
taken from the server's environment (``$NATS_PASSWORD_<USER>``), as the Kubernetes
overlays load it.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os

from ragapi_cli.state import write_private
from ragapi_common.contracts.access import SERVICE_USERS, USERS, Access, access

USERS_FILE = "nats-users.json"
CONFIG_FILE = "ragapi-auth.conf"
HEADER = (
    "# NATS users and permissions of ragapi, rendered by ragapi_cli/nats_auth.py from\n"
    "# ragapi_common/contracts/access.py: change those, not this file.\n"
)


def env_name(user: str) -> str:
    """The environment variable (and Kubernetes Secret key) holding ``user``'s password."""
    return f"NATS_PASSWORD_{user.upper()}"


def _rule(kind: str, allowed: tuple[str, ...]) -> list[str]:
    """``publish``/``subscribe``: the allowed subjects one a line; none at all: deny ``>``."""
    if not allowed:
        return [f'        {kind}: {{deny: [">"]}}']
    subjects = [f"            {json.dumps(subject)}" for subject in allowed]
    return [f"        {kind}: {{", "          allow: [", *subjects, "          ]", "        }"]


def _user_block(user: str, password: str, rights: Access) -> list[str]:
    """One entry of ``users``; ``password`` is inserted as given (a literal or ``$VAR``)."""
    lines = [
        "    {",
        f"      user: {json.dumps(user)}",
        f"      password: {password}",
        "      permissions: {",
        *_rule("publish", rights.publish),
        *_rule("subscribe", rights.subscribe),
    ]
    if rights.responds:
        lines.append("        allow_responses: true")
    return [*lines, "      }", "    }"]


def render_config(passwords: Mapping[str, str], extra: Mapping[str, Access] | None = None) -> str:
    """The ``authorization`` block for ragapi's users (and ``extra`` ones, for tests).

    ``passwords`` maps each user to the text put after ``password:``: use
    :func:`literal` for a value, ``"$" + env_name(user)`` for the environment's.
    """
    rights = {user: access(user) for user in USERS} | dict(extra or {})
    body = [line for user in rights for line in _user_block(user, passwords[user], rights[user])]
    return HEADER + "authorization {\n  users = [\n" + "\n".join(body) + "\n  ]\n}\n"


def literal(password: str) -> str:
    return json.dumps(password)


async def load_passwords(data_dir: Path) -> dict[str, str]:
    """Every user's password: saved ones reused, missing ones generated and saved (0600)."""
    path = data_dir / USERS_FILE
    saved: dict[str, str] = {}
    if await aiofiles.os.path.exists(path):
        async with aiofiles.open(path, encoding="utf-8") as handle:
            saved = json.loads(await handle.read())
    passwords = {user: saved.get(user) or secrets.token_urlsafe(32) for user in USERS}
    if passwords != saved:
        await write_private(path, json.dumps(passwords, indent=2) + "\n")
    return passwords


async def write_server_config(data_dir: Path, passwords: Mapping[str, str]) -> Path:
    """The embedded server's config with these passwords, written 0600; its path."""
    store = data_dir / "nats"
    await aiofiles.os.makedirs(store, exist_ok=True)
    path = store / CONFIG_FILE
    await write_private(path, render_config({u: literal(p) for u, p in passwords.items()}))
    return path


def service_settings(passwords: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Each service's NATS settings: its own user and password."""
    return {user: {"nats_user": user, "nats_password": passwords[user]} for user in SERVICE_USERS}


def kubernetes_config() -> str:
    """The config as the Kubernetes NATS server loads it: passwords from its environment."""
    return render_config({user: "$" + env_name(user) for user in USERS})


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    if sys.argv[1:] != ["--k8s"]:
        sys.exit(
            "usage: python -m ragapi_cli.nats_auth --k8s"
            " > deploy/k8s/components/nats-auth/nats-auth.conf"
        )
    sys.stdout.write(kubernetes_config())

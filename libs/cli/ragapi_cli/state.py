"""What ``ragapi up`` keeps in its data directory between starts.

``<data-dir>/secrets.json`` (mode 0600) holds the generated admin token and
secret key when the environment gives none; ``<data-dir>/.default-tenant``
records that the first start created the ``default`` tenant (its key is
printed once and stored nowhere in clear).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

SECRETS_FILE = "secrets.json"
DEFAULT_TENANT_MARKER = ".default-tenant"


@dataclass(frozen=True)
class Credentials:
    admin_token: str
    secret_key: str
    generated: bool


def _private(path: str, flags: int) -> int:
    """An ``opener`` creating files readable by their owner only."""
    return os.open(path, flags, 0o600)


async def write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    async with aiofiles.open(tmp, "w", encoding="utf-8", opener=_private) as handle:
        await handle.write(text)
    await aiofiles.os.replace(tmp, path)


async def load_credentials(data_dir: Path, *, admin_token: str, secret_key: str) -> Credentials:
    """The given values, else the saved ones, else fresh ones (then saved, 0600)."""
    await aiofiles.os.makedirs(data_dir, exist_ok=True)
    path = data_dir / SECRETS_FILE
    saved: dict[str, str] = {}
    if await aiofiles.os.path.exists(path):
        async with aiofiles.open(path, encoding="utf-8") as handle:
            saved = json.loads(await handle.read())
    values = dict(saved)
    for name, given in (("admin_token", admin_token), ("secret_key", secret_key)):
        if not given and not values.get(name):
            values[name] = secrets.token_urlsafe(32)
    generated = values != saved
    if generated:
        await write_private(path, json.dumps(values, indent=2) + "\n")
    return Credentials(
        admin_token=admin_token or values["admin_token"],
        secret_key=secret_key or values["secret_key"],
        generated=generated,
    )


async def default_tenant_done(data_dir: Path) -> bool:
    return bool(await aiofiles.os.path.exists(data_dir / DEFAULT_TENANT_MARKER))


async def mark_default_tenant_done(data_dir: Path) -> None:
    await write_private(data_dir / DEFAULT_TENANT_MARKER, "default\n")

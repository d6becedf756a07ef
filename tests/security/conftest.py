"""A NATS server of its own for these tests, with ragapi's users and permissions (as ``ragapi
up`` generates them) plus ``spy``, a privileged user that may see everything."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ragapi_cli.nats_auth import literal, render_config
from ragapi_common.contracts.access import USERS, Access
from tests.support.servers import nats_server

SPY = "spy"


@dataclass(frozen=True)
class SecureNats:
    url: str
    passwords: dict[str, str]
    log: Path

    def violations(self) -> list[str]:
        """The server's log lines about refused publishes and subscriptions so far."""
        text = self.log.read_text(encoding="utf-8") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Violation - Subject" in line]

    def auth(self, user: str) -> dict[str, str]:
        """nats.connect keyword arguments for ``user``."""
        return {"user": user, "password": self.passwords[user]}

    def settings(self, user: str) -> dict[str, Any]:
        """A service's settings for ``user``."""
        return {"nats_url": self.url, "nats_user": user, "nats_password": self.passwords[user]}


@pytest.fixture(scope="package")
def secure_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureNats]:
    passwords = {user: secrets.token_urlsafe(16) for user in (*USERS, SPY)}
    everything = Access(publish=(">",), subscribe=(">",))
    config = render_config({u: literal(p) for u, p in passwords.items()}, {SPY: everything})
    directory: Path = tmp_path_factory.mktemp("secure-nats")
    log = directory / "nats-server.log"
    config += f"log_file: {literal(str(log))}\n"
    (directory / "auth.conf").write_text(config, encoding="utf-8")
    with nats_server(directory / "store", config=directory / "auth.conf") as url:
        yield SecureNats(url, passwords, log)

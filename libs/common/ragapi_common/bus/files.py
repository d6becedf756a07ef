"""Files in the JetStream object store, streamed both ways in bounded chunks.

The wire layout is nats-py's (chunks on ``$O.<bucket>.C.<nuid>``, a rolled-up
meta message on ``$O.<bucket>.M.<b64 name>``), so ``nats object get`` reads
what we write. Unlike nats-py's ``get``, :meth:`FileStore.read` never holds a
whole object in memory and needs no thread for file I/O. Without a connection to the
server every call fails at once (:func:`.outages.require_connection`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime

import nats.js.api
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from ragapi_common.errors import NotFound

from .outages import require_connection

CHUNK_SIZE = 128 * 1024


class FileStore:
    """One object-store bucket."""

    def __init__(self, js: JetStreamContext, bucket: str, client: Client) -> None:
        self.js = js
        self.client = client
        self.bucket = bucket
        self.stream = f"OBJ_{bucket}"
        self._store: ObjectStore | None = None

    async def ensure(self) -> None:
        try:
            self._store = await self.js.object_store(self.bucket)
        except nats.js.errors.BucketNotFoundError:
            self._store = await self.js.create_object_store(
                self.bucket,
                config=nats.js.api.ObjectStoreConfig(storage=nats.js.api.StorageType.FILE),
            )

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            raise RuntimeError("FileStore.ensure() was not awaited")
        require_connection(self.client)
        return self._store

    def _meta_subject(self, name: str) -> str:
        encoded = base64.urlsafe_b64encode(name.encode()).decode()
        return f"$O.{self.bucket}.M.{encoded}"

    async def write(self, name: str, chunks: AsyncIterable[bytes]) -> int:
        """Store ``chunks`` under ``name`` (replacing it); answer the size in bytes."""
        nuid = self.client._nuid.next().decode()
        chunk_subject = f"$O.{self.bucket}.C.{nuid}"
        digest = hashlib.sha256()
        size = count = 0
        try:
            old = await self.store.get_info(name)
        except nats.js.errors.NotFoundError:
            old = None
        try:
            async for chunk in _rechunk(chunks):
                digest.update(chunk)
                await self.js.publish(chunk_subject, chunk)
                size += len(chunk)
                count += 1
            meta = {
                "name": name,
                "bucket": self.bucket,
                "nuid": nuid,
                "size": size,
                "chunks": count,
                "mtime": datetime.now(UTC).isoformat(),
                "digest": "SHA-256=" + base64.urlsafe_b64encode(digest.digest()).decode(),
                "options": {"max_chunk_size": CHUNK_SIZE},
            }
            await self.js.publish(
                self._meta_subject(name),
                json.dumps(meta).encode(),
                headers={"Nats-Rollup": "sub"},
            )
        except BaseException:
            await self.js.purge_stream(self.stream, subject=chunk_subject)
            raise
        if old is not None and not old.deleted and old.nuid:
            await self.js.purge_stream(self.stream, subject=f"$O.{self.bucket}.C.{old.nuid}")
        return size

    async def write_bytes(self, name: str, data: bytes) -> int:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.write(name, one())

    async def read(self, name: str) -> AsyncIterator[bytes]:
        """Yield the object's chunks in order; NotFound if absent."""
        info = await self._info(name)
        if not info.size:
            return
        sub = await self.js.subscribe(
            f"$O.{self.bucket}.C.{info.nuid}", ordered_consumer=True, pending_bytes_limit=8 << 20
        )
        try:
            async for msg in sub.messages:
                yield msg.data
                if msg.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()

    async def read_bytes(self, name: str) -> bytes:
        return b"".join([chunk async for chunk in self.read(name)])

    async def size(self, name: str) -> int:
        return int((await self._info(name)).size or 0)

    async def delete(self, name: str) -> bool:
        """Remove an object; False if it was not there."""
        try:
            await self.store.delete(name)
        except nats.js.errors.NotFoundError:
            return False
        return True

    async def names(self, *, prefix: str = "") -> list[str]:
        """Names of the live objects starting with ``prefix`` (reads every object's meta)."""
        try:
            infos = await self.store.list(ignore_deletes=True)
        except nats.js.errors.NotFoundError:
            return []
        return sorted(info.name for info in infos if info.name and info.name.startswith(prefix))

    async def _info(self, name: str) -> nats.js.api.ObjectInfo:
        try:
            info = await self.store.get_info(name)
        except nats.js.errors.NotFoundError as exc:
            raise NotFound(f"no stored file {name!r}") from exc
        if info.deleted:
            raise NotFound(f"no stored file {name!r}")
        return info


async def _rechunk(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Regroup arbitrary pieces into CHUNK_SIZE messages (the last may be shorter)."""
    buffer = bytearray()
    async for piece in chunks:
        buffer += piece
        while len(buffer) >= CHUNK_SIZE:
            yield bytes(buffer[:CHUNK_SIZE])
            del buffer[:CHUNK_SIZE]
    if buffer:
        yield bytes(buffer)

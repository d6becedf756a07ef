"""Files in the JetStream object store, streamed both ways in bounded chunks.

The wire layout is nats-py's (chunks on ``$O.<bucket>.C.<nuid>``, a rolled-up
meta message on ``$O.<bucket>.M.<b64 name>``), so ``nats object get`` reads
what we write. Unlike nats-py's ``get``, :meth:`FileStore.read` never holds a
whole object in memory and needs no thread for file I/O. Without a connection to the
server every call fails at once (:func:`.outages.require_connection`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime

import nats.errors
import nats.js.api
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from ragapi_common.errors import NotFound, StoredFileCorrupt

from .outages import require_connection

CHUNK_SIZE = 128 * 1024
#: Chunks asked for at once when reading: what a read holds in memory (2 MiB).
READ_BATCH = 16
#: A read that gets no chunk for this long fails (the job that read it retries).
READ_TIMEOUT_S = 10.0
#: A reader's consumer left behind by a crash is removed by the server after this.
CONSUMER_IDLE_S = 60.0
_DIGEST_PREFIX = "sha-256="


class FileStore:
    """One object-store bucket."""

    def __init__(
        self, js: JetStreamContext, bucket: str, client: Client, replicas: int = 1
    ) -> None:
        self.js = js
        self.replicas = replicas
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
                config=nats.js.api.ObjectStoreConfig(
                    storage=nats.js.api.StorageType.FILE, replicas=self.replicas
                ),
            )
            return
        # A bucket made with other replicas (before a move to a cluster) is scaled to these.
        config = (await self.js.stream_info(self.stream)).config
        if config.num_replicas != self.replicas:
            config.num_replicas = self.replicas
            await self.js.update_stream(config)

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
        """Yield the object's chunks in order; NotFound if absent.

        Chunks come through a pull consumer in batches of :data:`READ_BATCH`, so a
        slow reader only slows the reading: nothing is pushed at it, nothing dropped.
        The size and SHA-256 recorded at write are checked at the end: a short or
        changed object raises :class:`StoredFileCorrupt` after the last chunk (so a
        caller that keeps what it read until the end never keeps a partial file).
        """
        info = await self._info(name)
        check = _Check(name, info)
        if info.size:
            async for data in self._chunks(f"$O.{self.bucket}.C.{info.nuid}", check):
                check.update(data)
                yield data
        check.verify()

    async def _chunks(self, subject: str, check: _Check) -> AsyncIterator[bytes]:
        """The chunk messages of ``subject`` in stream order, through a throwaway consumer."""
        config = nats.js.api.ConsumerConfig(
            name=self.js._nc._nuid.next().decode(),
            filter_subject=subject,
            deliver_policy=nats.js.api.DeliverPolicy.ALL,
            ack_policy=nats.js.api.AckPolicy.NONE,
            inactive_threshold=CONSUMER_IDLE_S,
            mem_storage=True,
            num_replicas=1,
        )
        consumer = await self.js.add_consumer(self.stream, config)
        sub = await self.js.pull_subscribe_bind(consumer=consumer.name, stream=self.stream)
        try:
            delivered = 0
            while True:
                for msg in await self._fetch(sub, check):
                    delivered += 1
                    if msg.metadata.sequence.consumer != delivered:
                        raise check.failed(f"chunk {delivered} never arrived")
                    yield msg.data
                    if msg.metadata.num_pending == 0:
                        return
        finally:
            await self._drop_consumer(sub, consumer.name)

    async def _fetch(self, sub: JetStreamContext.PullSubscription, check: _Check) -> list[Msg]:
        try:
            return await sub.fetch(READ_BATCH, timeout=READ_TIMEOUT_S)
        except (nats.errors.TimeoutError, TimeoutError) as exc:
            raise check.failed(f"no chunk arrived for {READ_TIMEOUT_S:g} s") from exc

    async def _drop_consumer(self, sub: JetStreamContext.PullSubscription, name: str) -> None:
        """Best effort: an idle consumer left behind expires by itself."""
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, OSError):
            await sub.unsubscribe()
            await self.js.delete_consumer(self.stream, name)

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


class _Check:
    """What a read must add up to: the size and SHA-256 recorded when it was written."""

    def __init__(self, name: str, info: nats.js.api.ObjectInfo) -> None:
        self.name = name
        self.size = int(info.size or 0)
        self.expected = _digest_of(info)
        self.read = 0
        self._sha = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self.read += len(data)
        if self.read > self.size:
            raise self.failed("more bytes than were written")
        self._sha.update(data)

    def verify(self) -> None:
        if self.read != self.size:
            raise self.failed("short read")
        if self.expected is None:
            raise self.failed("its meta records no SHA-256")
        if self._sha.digest() != self.expected:
            raise self.failed("its SHA-256 differs from the one recorded at write")

    def failed(self, why: str) -> StoredFileCorrupt:
        return StoredFileCorrupt(
            f"stored file {self.name!r} read back corrupt ({why}): "
            f"{self.read:,} of {self.size:,} bytes",
            retry_after=1,
        )


def _digest_of(info: nats.js.api.ObjectInfo) -> bytes | None:
    """The raw SHA-256 of ``SHA-256=<url-safe base64>`` (any case), or None."""
    recorded = info.digest or ""
    if not recorded.lower().startswith(_DIGEST_PREFIX):
        return None
    try:
        return base64.urlsafe_b64decode(recorded[len(_DIGEST_PREFIX) :])
    except ValueError:
        return None

"""Per-tenant index locks: one writer per tenant at a time, across every replica.

LightRAG's merge locks (entity and relation upserts, the pipeline's busy
flag) live in process memory. With the ``local`` profile one process owns a
tenant, and the tenant instance's own ``asyncio.Lock`` is enough. With the
``postgres`` profile several replicas write the same tables, so a write also
holds a lock in Redis: its TTL frees it if the holder dies, and a renewal task
keeps it while a long insert (LLM extraction) runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

_log = logging.getLogger(__name__)

#: ``async with index_lock():`` holds the tenant's index for one write.
IndexLock = Callable[[], AbstractAsyncContextManager[None]]

KEY_PREFIX = "ragapi:index-lock:"


def in_process() -> IndexLock:
    """Nothing beyond the tenant instance's own lock (the ``local`` profile)."""
    return contextlib.nullcontext


class RedisIndexLock:
    """The tenant's write lock in Redis, renewed every third of its TTL while held."""

    def __init__(
        self, redis: Redis, tenant_id: str, *, ttl_s: float = 30.0, poll_s: float = 0.1
    ) -> None:
        self.key = KEY_PREFIX + tenant_id
        self._redis = redis
        self._ttl_s = ttl_s
        self._poll_s = poll_s

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        # thread_local=False: the token must be visible to the renewal task.
        lock = self._redis.lock(
            self.key, timeout=self._ttl_s, sleep=self._poll_s, thread_local=False
        )
        await lock.acquire()
        renewal = asyncio.create_task(self._renew(lock), name=f"renew {self.key}")
        try:
            yield
        finally:
            renewal.cancel()
            # wait() neither raises the renewal's CancelledError nor swallows our own.
            await asyncio.wait((renewal,))
            try:
                await lock.release()
            except LockError:
                _log.error("index lock %s expired before the write ended", self.key)

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            try:
                await lock.extend(self._ttl_s, replace_ttl=True)
            except LockNotOwnedError:
                # Another writer may be in: nothing safe to undo mid-write, so say it loudly.
                _log.error("index lock %s was lost while held", self.key)
                return
            except RedisError:
                _log.warning("renewing index lock %s failed; retrying", self.key)

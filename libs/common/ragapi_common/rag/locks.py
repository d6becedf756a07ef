"""Per-tenant index locks: one writer per tenant at a time, across every replica.

LightRAG's merge locks (entity and relation upserts, the pipeline's busy
flag) live in process memory. With the ``local`` profile one process owns a
tenant, and the tenant instance's own ``asyncio.Lock`` is enough. With the
``postgres`` profile several replicas write the same tables, so a write also
holds a lock in Redis: its TTL frees it if the holder dies, and a renewal task
keeps it while a long insert (LLM extraction) runs.

redis-py's lock is not fair: a holder that lets go and asks again at once
takes it before a waiter's next poll. So waiters say they wait (a sorted set
of owner ids, each entry expiring unless renewed by its owner's polls), and a
holder that lets go while someone else waits steps aside for a moment
(``handoff`` key, its own id): the waiter goes next. Between two groups of
inserts (see :mod:`.writes`) another replica therefore gets the tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

_log = logging.getLogger(__name__)

#: ``async with index_lock():`` holds the tenant's index for one write.
IndexLock = Callable[[], AbstractAsyncContextManager[None]]

KEY_PREFIX = "ragapi:index-lock:"
T = TypeVar("T")


def in_process() -> IndexLock:
    """Nothing beyond the tenant instance's own lock (the ``local`` profile)."""
    return contextlib.nullcontext


class RedisIndexLock:
    """The tenant's write lock in Redis, renewed every third of its TTL while held."""

    def __init__(
        self, redis: Redis, tenant_id: str, *, ttl_s: float = 30.0, poll_s: float = 0.1
    ) -> None:
        self.key = KEY_PREFIX + tenant_id
        self.waiters_key = f"{self.key}:waiters"
        self.handoff_key = f"{self.key}:handoff"
        #: Who this replica's lock is, in the waiters and the handoff.
        self.owner = secrets.token_hex(8)
        self._redis = redis
        self._ttl_s = ttl_s
        self._poll_s = poll_s
        # A waiter's entry, and a step aside, outlive a few of its polls.
        self._presence_ms = max(500, int(poll_s * 5000))

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        # thread_local=False: the token must be visible to the renewal task.
        lock = self._redis.lock(self.key, timeout=self._ttl_s, thread_local=False)
        await self._acquire(lock)
        renewal = asyncio.create_task(self._renew(lock), name=f"renew {self.key}")
        try:
            yield
        finally:
            renewal.cancel()
            # wait() neither raises the renewal's CancelledError nor swallows our own.
            await asyncio.wait((renewal,))
            await self._release(lock)

    async def _acquire(self, lock: Lock) -> None:
        try:
            while True:
                now_ms = int(time.time() * 1000)
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.zremrangebyscore(self.waiters_key, "-inf", now_ms)  # gone waiters
                    pipe.zadd(self.waiters_key, {self.owner: now_ms + self._presence_ms})
                    pipe.pexpire(self.waiters_key, self._presence_ms)
                    pipe.get(self.handoff_key)
                    *_, stepping_aside = await pipe.execute()
                if stepping_aside != self.owner.encode() and await lock.acquire(blocking=False):
                    return
                await asyncio.sleep(self._poll_s)
        finally:
            await _quietly(self._redis.zrem(self.waiters_key, self.owner))

    async def _release(self, lock: Lock) -> None:
        try:
            await lock.release()
        except LockError:
            _log.error("index lock %s expired before the write ended", self.key)
            return
        # Someone else waits: step aside, so this replica's next group goes after them.
        now_ms = int(time.time() * 1000)
        others = await _quietly(self._redis.zcount(self.waiters_key, now_ms, "+inf"))
        if others:
            await _quietly(self._redis.set(self.handoff_key, self.owner, px=self._presence_ms))

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


async def _quietly(command: Awaitable[T]) -> T | None:
    """A courtesy command (waiters, handoff): its failure only costs fairness."""
    try:
        return await command
    except RedisError as error:
        _log.warning("index lock bookkeeping failed: %s", error)
        return None

"""Index concurrency: a total bound, a per-tenant bound inside it, one writer per tenant.

A job first takes one of its tenant's slots, then the per-tenant writer lease
in Redis (so only one replica writes a tenant's LightRAG storages at a time),
then a slot of the process-wide bound. Since each tenant queues at most its
own few jobs on the shared bound, and that bound serves waiters in order, a
tenant with a thousand documents waiting cannot keep another's from running.
Jobs beyond a tenant's slots and small backlog raise :class:`Crowded` after a
short wait, and the worker puts them back at the tail of the queue, so they do
not hold the worker's fetch slots either.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from redis.asyncio import Redis

from ragapi_common.redis_pool import OUTAGES

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Crowded(Exception):
    """The tenant already has all its slots busy and its backlog full."""


@dataclass
class _Tenant:
    slots: asyncio.Semaphore
    waiting: int = 0
    holders: int = 0
    lease_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    renewer: asyncio.Task[None] | None = None


class IndexGate:
    """Admission for index jobs; one per process."""

    def __init__(
        self, redis: Redis, *, total: int, per_tenant: int, backlog: int, lease_ttl_s: float
    ) -> None:
        self.redis = redis
        self.per_tenant = per_tenant
        self.backlog = backlog
        self.lease_ttl_ms = int(lease_ttl_s * 1000)
        self._total = asyncio.Semaphore(total)
        self._tenants: dict[str, _Tenant] = {}
        self._owner = secrets.token_hex(8)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def _state(self, tenant_id: str) -> _Tenant:
        state = self._tenants.get(tenant_id)
        if state is None:
            state = self._tenants[tenant_id] = _Tenant(asyncio.Semaphore(self.per_tenant))
        return state

    @contextlib.asynccontextmanager
    async def slot(self, tenant_id: str, *, patience_s: float) -> AsyncIterator[None]:
        """Hold a slot of the tenant and of the process; Crowded if the tenant is full."""
        state = self._state(tenant_id)
        crowded = state.slots.locked() and state.waiting >= self.backlog
        state.waiting += 1
        try:
            if crowded:
                try:
                    async with asyncio.timeout(patience_s):
                        await state.slots.acquire()
                except TimeoutError:
                    raise Crowded(tenant_id) from None
            else:
                await state.slots.acquire()
        finally:
            state.waiting -= 1
        try:
            await self._hold_lease(tenant_id, state)
            try:
                async with self._total:
                    yield
            finally:
                await self._drop_lease(tenant_id, state)
        finally:
            state.slots.release()
            if state.holders == 0 and state.waiting == 0 and not state.slots.locked():
                self._tenants.pop(tenant_id, None)

    def _key(self, tenant_id: str) -> str:
        return f"ragapi:ingest:{{{tenant_id}}}:writer"

    async def _hold_lease(self, tenant_id: str, state: _Tenant) -> None:
        async with state.lease_lock:
            if state.holders == 0:
                await self._acquire_lease(tenant_id)
                state.renewer = asyncio.create_task(self._keep_lease(tenant_id))
            state.holders += 1

    async def _acquire_lease(self, tenant_id: str) -> None:
        key = self._key(tenant_id)
        for _ in itertools.count():
            if await self.redis.set(key, self._owner, nx=True, px=self.lease_ttl_ms):
                return
            # Another replica writes this tenant; its lease ends or expires soon.
            await asyncio.sleep(0.2)

    async def _keep_lease(self, tenant_id: str) -> None:
        """Renew the lease a third of its TTL before it ends; through a Redis outage too
        (the renewal is tried again at the next beat instead of ending the renewals)."""
        key = self._key(tenant_id)
        while True:
            await asyncio.sleep(self.lease_ttl_ms / 3000)
            try:
                renewed = await self._renew(keys=[key], args=[self._owner, self.lease_ttl_ms])
            except OUTAGES as exc:
                log.warning("renewing the writer lease of %s failed: %s", tenant_id, exc)
                continue
            if not renewed:
                log.warning("writer lease of %s was lost", tenant_id)

    async def _drop_lease(self, tenant_id: str, state: _Tenant) -> None:
        async with state.lease_lock:
            state.holders -= 1
            if state.holders > 0:
                return
            renewer, state.renewer = state.renewer, None
            if renewer is not None:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
            await self._release(keys=[self._key(tenant_id)], args=[self._owner])

    async def close(self) -> None:
        for state in self._tenants.values():
            if state.renewer is not None:
                state.renewer.cancel()

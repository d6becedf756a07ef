"""Who is calling: the admin token for ``/v1/tenants*``, a tenant API key elsewhere.

:class:`TenantAuth` resolves a key through the tenants service (``tenants.resolve``
over NATS, by the key's sha256: the key itself never leaves this process) and caches
the answer. A revoked key stops working on every process:

- when the revocation event arrives, which drops the cached entry (milliseconds);
- a lookup in flight when any tenant event arrives answers the request that asked but is
  not cached: its answer may predate the event;
- a process whose NATS connection was down (it may have missed the event: core NATS does
  not replay) drops its whole cache when the connection is back, before it serves from the
  cache again; while it is down, entries are trusted until they expire, ``ttl_s`` after
  their lookup was sent, never longer.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict

from starlette.requests import Request

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import ResolveKeyRequest, TenantContext, TenantEvent
from ragapi_common.errors import Unauthorized
from ragapi_common.logs import tenant_id_var
from ragapi_common.secrets import hash_api_key

log = logging.getLogger(__name__)


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when missing."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    return token.strip()


def require_admin(request: Request, admin_token: str) -> None:
    """401 unless the request carries the admin token (compared in constant time)."""
    token = bearer_token(request)
    if not admin_token or not hmac.compare_digest(token.encode(), admin_token.encode()):
        raise Unauthorized("invalid admin token")


class TenantAuth:
    """API key -> :class:`TenantContext`, cached with a TTL and event invalidation."""

    def __init__(self, bus: Bus, *, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self.bus = bus
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        #: Tenant events seen: a lookup sent before the latest one is not cached.
        self.generation = 0
        self._cache: OrderedDict[str, tuple[float, TenantContext]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[TenantContext]] = {}
        #: The connection was lost since the cache was last dropped.
        self._lost = False

    async def start(self) -> None:
        self.bus.on_connection(self._on_connection)
        await self.bus.subscribe(subjects.EVENT_TENANT_ANY, TenantEvent, self._on_event)

    def _on_connection(self, connected: bool) -> None:
        # Lost: a lookup in flight may be answered from before an event this process will
        # never see. Back: any event may have been missed meanwhile.
        self.generation += 1
        if connected:
            self._drop_all()
        else:
            self._lost = True

    def _drop_all(self) -> None:
        self._lost = False
        self._cache.clear()
        self._pending.clear()

    async def _on_event(self, subject: str, event: TenantEvent) -> None:
        self.generation += 1
        if subject == subjects.EVENT_KEY_REVOKED and event.key_hash:
            self._cache.pop(event.key_hash, None)
            self._pending.pop(event.key_hash, None)
        for key_hash, (_, ctx) in list(self._cache.items()):
            if ctx.tenant_id == event.tenant_id and (
                subject != subjects.EVENT_KEY_REVOKED or ctx.key_id == event.key_id
            ):
                self._cache.pop(key_hash, None)

    async def tenant(self, request: Request) -> TenantContext:
        """The tenant the request's API key belongs to; 401 if none."""
        ctx = await self.resolve(bearer_token(request))
        tenant_id_var.set(ctx.tenant_id)
        return ctx

    async def resolve(self, api_key: str) -> TenantContext:
        key_hash = hash_api_key(api_key)
        if self._lost and self.bus.connected:
            # Back, and nats-py has not yet told us so (it flushes first).
            self.generation += 1
            self._drop_all()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > time.monotonic():
            self._cache.move_to_end(key_hash)
            return cached[1]
        # One lookup per key at a time: a burst on a cold cache must not become a burst
        # of identical requests to the tenants service.
        pending = self._pending.get(key_hash)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(key_hash))
            self._pending[key_hash] = pending
            pending.add_done_callback(lambda done: self._forget(key_hash, done))
        return await asyncio.shield(pending)

    async def _fetch(self, key_hash: str) -> TenantContext:
        # Only the hash travels: a subscriber on the bus learns no usable key.
        sent_at, generation = time.monotonic(), self.generation
        ctx = await self.bus.request(
            subjects.TENANTS_RESOLVE, ResolveKeyRequest(key_hash=key_hash), TenantContext
        )
        if generation != self.generation:
            return ctx  # a tenant event arrived meanwhile: this answer may be stale
        self._cache[key_hash] = (sent_at + self.ttl_s, ctx)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return ctx

    def _forget(self, key_hash: str, done: asyncio.Future[TenantContext]) -> None:
        if self._pending.get(key_hash) is done:
            del self._pending[key_hash]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone

"""What the tenants service does, independent of HTTP or NATS framing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import (
    PurgeJob,
    ResolveKeyRequest,
    TenantContext,
    TenantEvent,
    TenantLookupRequest,
)
from ragapi_common.errors import NotFound, Unauthorized

from .config import ConfigCodec, merge_patch, validate
from .models import KeyCreated, KeyInfo, Tenant, TenantCreate, TenantCreated, TenantPatch
from .store import TenantStore, now

log = logging.getLogger(__name__)


class Tenants:
    """Tenant lifecycle: records in the store, events and purge jobs on the bus."""

    def __init__(self, store: TenantStore, codec: ConfigCodec, bus: Bus) -> None:
        self.store = store
        self.codec = codec
        self.bus = bus

    def _shown(self, record: dict[str, Any]) -> Tenant:
        return Tenant(
            id=record["id"],
            name=record["name"],
            created_at=record["created_at"],
            config=self.codec.masked(record["config"]),
        )

    async def create(self, body: TenantCreate) -> TenantCreated:
        record = {
            "id": body.id,
            "name": body.name or body.id,
            "created_at": now(),
            "config": self.codec.seal(body.config),
        }
        _, api_key = await self.store.create(record)
        return TenantCreated(tenant=self._shown(record), api_key=api_key)

    async def get(self, tenant_id: str) -> Tenant:
        return self._shown(await self.store.get(tenant_id))

    async def all(self) -> list[Tenant]:
        return [self._shown(record) for record in await self.store.all()]

    async def patch(self, tenant_id: str, body: TenantPatch) -> Tenant:
        def change(record: dict[str, Any]) -> dict[str, Any]:
            if body.name is not None:
                record["name"] = body.name
            if body.config is not None:
                base = self.codec.clear_for_patch(record["config"])
                merged = validate(merge_patch(base, body.config))
                record["config"] = self.codec.seal(merged, previous=record["config"])
            return record

        record = await self.store.update(tenant_id, change)
        await self.bus.publish(subjects.EVENT_TENANT_UPDATED, TenantEvent(tenant_id=tenant_id))
        return self._shown(record)

    async def delete(self, tenant_id: str) -> None:
        """Forget the tenant now; the purge job removes its documents, vectors and files.

        The store records the purge as owed until its job is queued: a DELETE that could
        not queue it (NATS down: 503) is repeated, or :meth:`queue_owed_purges` does it.
        """
        try:
            hashes = await self.store.delete(tenant_id)
        except NotFound:
            if not await self.store.purge_owed(tenant_id):
                raise
            hashes = []  # removed by an earlier DELETE, whose events may not have gone out
        await self.queue_purge(tenant_id)
        await self.bus.publish(subjects.EVENT_TENANT_DELETED, TenantEvent(tenant_id=tenant_id))
        for key_hash in hashes:
            event = TenantEvent(tenant_id=tenant_id, key_hash=key_hash)
            await self.bus.publish(subjects.EVENT_KEY_REVOKED, event)

    async def queue_purge(self, tenant_id: str) -> None:
        job = PurgeJob(tenant_id=tenant_id)
        await self.bus.submit(subjects.JOB_PURGE, job, msg_id=f"purge:{tenant_id}:{now()}")
        await self.store.purge_queued(tenant_id)

    async def queue_owed_purges(self) -> None:
        """Queue the purge of every deleted tenant whose DELETE could not (the sweep)."""
        for tenant_id in await self.store.owed_purges():
            await self.queue_purge(tenant_id)

    async def sweep(self, interval_s: float) -> None:
        """Every ``interval_s``, queue the owed purges; an outage waits for the next round."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.queue_owed_purges()
            except Exception as exc:  # an outage of Redis or NATS; the sweep must go on
                log.warning("owed tenant purges not queued yet: %s", exc)

    async def create_key(self, tenant_id: str) -> KeyCreated:
        await self.store.get(tenant_id)
        key_id, api_key = await self.store.add_key(tenant_id)
        return KeyCreated(key_id=key_id, api_key=api_key)

    async def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        return [KeyInfo(**key) for key in await self.store.list_keys(tenant_id)]

    async def revoke_key(self, tenant_id: str, key_id: str) -> None:
        key_hash = await self.store.revoke_key(tenant_id, key_id)
        event = TenantEvent(tenant_id=tenant_id, key_id=key_id, key_hash=key_hash)
        await self.bus.publish(subjects.EVENT_KEY_REVOKED, event)

    # --- bus endpoints ---------------------------------------------------------------------
    async def resolve(self, request: ResolveKeyRequest) -> TenantContext:
        try:
            record, key_id = await self.store.resolve_hash(request.key_hash)
        except NotFound as exc:
            raise Unauthorized("unknown or revoked API key") from exc
        return self._context(record, key_id)

    async def lookup(self, request: TenantLookupRequest) -> TenantContext:
        return self._context(await self.store.get(request.tenant_id), None)

    def _context(self, record: dict[str, Any], key_id: str | None) -> TenantContext:
        config, sealed = self.codec.sealed(record["config"])
        return TenantContext(
            tenant_id=record["id"], name=record["name"], key_id=key_id, config=config, sealed=sealed
        )

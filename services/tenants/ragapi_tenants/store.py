"""Tenants and their API keys in Redis.

Layout (all JSON values)::

    ragapi:tenants                  sorted set of tenant ids by creation time
    ragapi:tenant:<id>              {"id", "name", "created_at", "config"} (secrets encrypted)
    ragapi:tenant:<id>:keys         hash key_id -> {"key_hash", "created_at"}
    ragapi:apikey:<sha256(key)>     {"tenant_id", "key_id"}
    ragapi:tenants:purging          set of deleted tenant ids whose purge job is not queued yet

Keys are stored only as their sha256: a Redis dump reveals no usable key.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from ragapi_common.errors import Conflict, NotFound, RagapiError
from ragapi_common.secrets import hash_api_key, new_api_key

TENANTS = "ragapi:tenants"
PURGING = "ragapi:tenants:purging"


def _tenant_key(tenant_id: str) -> str:
    return f"ragapi:tenant:{tenant_id}"


def _keys_key(tenant_id: str) -> str:
    return f"ragapi:tenant:{tenant_id}:keys"


def _apikey_key(key_hash: str) -> str:
    return f"ragapi:apikey:{key_hash}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TenantStore:
    """Tenant records and API keys; every method is one atomic Redis step or transaction."""

    def __init__(self, redis: Redis, *, max_keys: int = 100) -> None:
        self.redis = redis
        self.max_keys = max_keys

    async def create(self, record: dict[str, Any]) -> tuple[str, str]:
        """Store a new tenant and its first key; Conflict if the id is taken or its previous
        tenant's purge is still owed (it would purge the new one)."""
        if await self.redis.sismember(PURGING, record["id"]):
            raise Conflict(f"tenant {record['id']!r} is being deleted; repeat the DELETE")
        created = await self.redis.set(_tenant_key(record["id"]), json.dumps(record), nx=True)
        if not created:
            raise Conflict(f"tenant id {record['id']!r} is taken")
        await self.redis.zadd(TENANTS, {record["id"]: datetime.now(UTC).timestamp()})
        return await self.add_key(record["id"])

    async def get(self, tenant_id: str) -> dict[str, Any]:
        raw = await self.redis.get(_tenant_key(tenant_id))
        if raw is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        record: dict[str, Any] = json.loads(raw)
        return record

    async def all(self) -> list[dict[str, Any]]:
        ids = [_text(i) for i in await self.redis.zrange(TENANTS, 0, -1)]  # type: ignore[arg-type]
        raws = await self.redis.mget([_tenant_key(i) for i in ids]) if ids else []
        return [json.loads(raw) for raw in raws if raw is not None]

    async def update(self, tenant_id: str, change: Any) -> dict[str, Any]:
        """Apply ``change(record) -> record`` with optimistic locking (retried on a race)."""
        key = _tenant_key(tenant_id)
        for _ in range(10):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise NotFound(f"no tenant {tenant_id!r}")
                    record = change(json.loads(raw))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, json.dumps(record))
                    await pipe.execute()
                    return dict(record)
                except WatchError:
                    continue
        raise RagapiError("tenant update kept racing; try again")

    async def delete(self, tenant_id: str) -> list[str]:
        """Remove the tenant and all its keys and record that its purge is owed; answer the
        revoked key hashes."""
        await self.get(tenant_id)
        keys = await self.redis.hgetall(_keys_key(tenant_id))
        hashes = [json.loads(v)["key_hash"] for v in keys.values()]
        async with self.redis.pipeline(transaction=True) as pipe:
            for key_hash in hashes:
                pipe.delete(_apikey_key(key_hash))
            pipe.delete(_keys_key(tenant_id), _tenant_key(tenant_id))
            pipe.zrem(TENANTS, tenant_id)
            pipe.sadd(PURGING, tenant_id)
            await pipe.execute()
        return hashes

    async def purge_owed(self, tenant_id: str) -> bool:
        """Whether the tenant was deleted and its purge job is not queued yet."""
        return bool(await self.redis.sismember(PURGING, tenant_id))

    async def owed_purges(self) -> list[str]:
        return sorted(_text(i) for i in await self.redis.smembers(PURGING))

    async def purge_queued(self, tenant_id: str) -> None:
        await self.redis.srem(PURGING, tenant_id)

    async def add_key(self, tenant_id: str) -> tuple[str, str]:
        """A new API key for the tenant: answers (key_id, api_key)."""
        if await self.redis.hlen(_keys_key(tenant_id)) >= self.max_keys:
            raise Conflict(f"tenant {tenant_id!r} already has {self.max_keys} keys")
        api_key, key_id = new_api_key(), "key_" + secrets.token_hex(8)
        key_hash = hash_api_key(api_key)
        entry = {"key_hash": key_hash, "created_at": now()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(_keys_key(tenant_id), key_id, json.dumps(entry))
            pipe.set(_apikey_key(key_hash), json.dumps({"tenant_id": tenant_id, "key_id": key_id}))
            await pipe.execute()
        return key_id, api_key

    async def list_keys(self, tenant_id: str) -> list[dict[str, str]]:
        await self.get(tenant_id)
        entries = await self.redis.hgetall(_keys_key(tenant_id))
        keys = [
            {"key_id": _text(k), "created_at": json.loads(v)["created_at"]}
            for k, v in entries.items()
        ]
        return sorted(keys, key=lambda key: key["created_at"])

    async def revoke_key(self, tenant_id: str, key_id: str) -> str:
        """Delete a key; answers its hash. NotFound for another tenant's key id."""
        raw = await self.redis.hget(_keys_key(tenant_id), key_id)
        if raw is None:
            raise NotFound(f"no key {key_id!r}")
        key_hash: str = json.loads(raw)["key_hash"]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(_keys_key(tenant_id), key_id)
            pipe.delete(_apikey_key(key_hash))
            await pipe.execute()
        return key_hash

    async def resolve_hash(self, key_hash: str) -> tuple[dict[str, Any], str]:
        """The tenant record and key id behind an API key's hash; NotFound if none."""
        raw = await self.redis.get(_apikey_key(key_hash))
        if raw is None:
            raise NotFound("unknown API key")
        owner = json.loads(raw)
        return await self.get(owner["tenant_id"]), owner["key_id"]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

"""The per-process LRU of tenant instances (:class:`~ragapi_common.rag.api.RagRegistry`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiofiles.os

from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.metrics import Metrics
from ragapi_common.settings import CommonSettings
from ragapi_common.tenancy import resolve

from .build import Models, build_tenant, close_stored, drop_stored
from .tenant import LightRagTenant
from .tokenizer import CachedTokenizer, OfflineTokenizer
from .workspace import reset_workspace_state

_log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Entry:
    fingerprint: str
    tenant: LightRagTenant


class Registry:
    """One LightRAG instance per tenant, created once on first use, evicted when idle.

    ``max_instances`` bounds memory (least recently used idle instances go
    first); a sweeper task evicts instances idle for ``idle_s``. An evicted
    workspace's shared in-memory state is reset, so the next use reloads
    from storage.
    """

    def __init__(
        self,
        settings: CommonSettings,
        models: Models,
        *,
        max_instances: int = 64,
        idle_s: float = 900.0,
        sweep_interval_s: float = 30.0,
        tokenizer: OfflineTokenizer | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._settings = settings
        self._models = models
        self._max = max_instances
        self._idle_s = idle_s
        self._sweep_interval_s = sweep_interval_s
        self._tokenizer = tokenizer
        self._tokenizer_lock = asyncio.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Weak: a tenant's lock lives while someone holds or awaits it, not for every
        # tenant id the process has ever seen.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._sweeper: asyncio.Task[None] | None = None
        self._on_close = on_close

    async def tokenizer(self) -> OfflineTokenizer:
        """The process's tokenizer; the first call reads the BPE file (~1 s) off the loop."""
        async with self._tokenizer_lock:
            if self._tokenizer is None:
                self._tokenizer = await asyncio.to_thread(CachedTokenizer)
        return self._tokenizer

    def loaded(self) -> list[str]:
        return list(self._entries)

    def _lock(self, tenant_id: str) -> asyncio.Lock:
        lock = self._locks.get(tenant_id)
        if lock is None:
            lock = self._locks[tenant_id] = asyncio.Lock()
        return lock

    async def get(self, tenant: TenantContext) -> LightRagTenant:
        self._start_sweeper()
        fingerprint = tenant.model_dump_json(include={"config", "sealed"})
        entry = self._entries.get(tenant.tenant_id)
        if entry is None or entry.fingerprint != fingerprint:
            async with self._lock(tenant.tenant_id):
                entry = await self._load(tenant, fingerprint)
        self._entries.move_to_end(tenant.tenant_id)
        entry.tenant.last_used = time.monotonic()
        return entry.tenant

    async def _load(self, tenant: TenantContext, fingerprint: str) -> _Entry:
        """Under the tenant's lock: reuse, rebuild (config changed) or create."""
        entry = self._entries.get(tenant.tenant_id)
        if entry is not None and entry.fingerprint == fingerprint:
            return entry
        if entry is not None:
            await self._unload(tenant.tenant_id)
        effective = resolve(self._settings, tenant)
        tokenizer = await self.tokenizer()
        built = await _apart(
            build_tenant(self._settings, tenant.tenant_id, effective, self._models, tokenizer)
        )
        entry = _Entry(fingerprint, built)
        self._entries[tenant.tenant_id] = entry
        await self._shrink()
        return entry

    async def _unload(self, tenant_id: str) -> None:
        entry = self._entries.pop(tenant_id, None)
        if entry is not None:
            await _apart(entry.tenant.close())
        reset_workspace_state(tenant_id)

    async def _shrink(self) -> None:
        """Evict least recently used idle instances beyond the size bound."""
        excess = len(self._entries) - self._max
        for tenant_id in list(self._entries):
            if excess <= 0:
                return
            if not self._entries[tenant_id].tenant.active:
                await self.evict(tenant_id)
                excess -= 1

    async def evict(self, tenant_id: str) -> None:
        async with self._lock(tenant_id):
            await self._unload(tenant_id)

    async def drop(self, tenant_id: str) -> None:
        async with self._lock(tenant_id):
            entry = self._entries.pop(tenant_id, None)
            if entry is not None:
                await _apart(entry.tenant.drop())
            await drop_stored(self._settings, self._models, tenant_id)
            reset_workspace_state(tenant_id)
            directory = self._settings.tenants_dir / tenant_id
            if await aiofiles.os.path.isdir(directory):
                await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)

    async def sweep(self) -> list[str]:
        """Evict every instance idle for longer than ``idle_s``; returns their ids."""
        cutoff = time.monotonic() - self._idle_s
        stale = [
            tenant_id
            for tenant_id, entry in self._entries.items()
            if not entry.tenant.active and entry.tenant.last_used < cutoff
        ]
        for tenant_id in stale:
            await self.evict(tenant_id)
        return stale

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="rag-sweeper")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                _log.exception("evicting idle tenant instances failed")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for tenant_id in list(self._entries):
            await self.evict(tenant_id)
        await close_stored(self._settings)
        if self._on_close is not None:
            await self._on_close()


async def _apart(work: Coroutine[Any, Any, T]) -> T:
    """``work`` in a task (a context) of its own, gone when it ends.

    Each of LightRAG's storage locks has a ``ContextVar`` of its own and sets it
    in the context it runs in: opening or closing tenants from a long-lived task
    (the sweeper, an event subscription, a worker loop) would keep every
    evicted tenant's locks alive through that task's context (~1.5 KB each).
    """
    return await asyncio.create_task(work)


def open_registry(settings: CommonSettings, *, metrics: Metrics | None = None) -> Registry:
    """The process's registry with its own model clients (closed by ``close()``)."""
    from .process import ProcessModels  # the HTTP and Redis clients: only when owned

    models = ProcessModels(settings, metrics)
    return Registry(settings, models.models, on_close=models.aclose)

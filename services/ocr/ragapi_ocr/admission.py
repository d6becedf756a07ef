"""How many documents of one tenant a replica reads at once (fairness across replicas).

The OCR work queue is one JetStream stream that every replica pulls from in
order. A tenant that uploads fifty documents would fill every replica's fetch
slots and keep another tenant's receipt in the stream behind them. So a replica
reads at most ``per_tenant`` documents of a tenant at once; a job over that
waits ``patience_s`` for one of them to finish, then goes back to the tail of
the queue (:class:`Crowded`) and its fetch slot pulls the next job, another
tenant's if there is one. Inside a replica, pages then share the pool through
the fair queue (:mod:`.fairqueue`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Crowded(Exception):
    """The tenant already has its documents in flight here; requeue the job."""


class TenantDocuments:
    def __init__(self, per_tenant: int, patience_s: float) -> None:
        self.per_tenant = per_tenant
        self.patience_s = patience_s
        self._reading: Counter[str] = Counter()
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self, tenant_id: str) -> AsyncIterator[None]:
        """Read one of ``tenant_id``'s documents; Crowded when none frees up in time."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._reading[tenant_id] < self.per_tenant),
                    self.patience_s,
                )
            except TimeoutError as exc:
                raise Crowded(tenant_id) from exc
            self._reading[tenant_id] += 1
        try:
            yield
        finally:
            async with self._changed:
                self._reading[tenant_id] -= 1
                if not self._reading[tenant_id]:
                    del self._reading[tenant_id]
                self._changed.notify_all()

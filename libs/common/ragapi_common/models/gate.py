"""Admission of one tenant's model call: concurrency here, requests/tokens per minute in Redis.

Concurrency is bounded per process (an :class:`asyncio.Semaphore` per tenant),
so a tenant's burst cannot take every connection of the shared pool; the
per-minute budgets are shared by every replica through the Redis GCRA limiter.
Over budget, a call waits for the limiter's ``retry_after`` instead of failing,
unless the wait would pass the call's deadline (then 429 at once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from ragapi_common.errors import RateLimited
from ragapi_common.ratelimit import Bucket, RateLimiter


def estimate_tokens(texts: Iterable[str]) -> int:
    """A cheap token estimate, no tokenizer on the hot path.

    ASCII text runs ~4 characters per token; CJK and other non-ASCII characters
    about one token each (cl100k: 1.2 per Chinese character), so counting them
    as a quarter would let a Chinese prompt spend five times its budget.
    """
    ascii_chars = other_chars = 0
    for text in texts:
        ascii_count = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
        ascii_chars += ascii_count
        other_chars += len(text) - ascii_count
    return ascii_chars // 4 + other_chars


@dataclass
class _Slots:
    """One tenant's semaphore and how many calls hold or wait for it."""

    size: int
    semaphore: asyncio.Semaphore
    users: int = 0


class TenantGate:
    """Per-tenant admission for one kind of model call (``kind`` prefixes the Redis keys).

    A tenant's semaphore lives while calls hold or wait for it: a process that
    has served thousands of tenants keeps none of the idle ones.
    """

    def __init__(self, limiter: RateLimiter | None, kind: str) -> None:
        self.limiter = limiter
        self.kind = kind
        self._slots: dict[str, _Slots] = {}

    @contextlib.asynccontextmanager
    async def admit(
        self,
        tenant_id: str,
        *,
        concurrency: int,
        deadline: float,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        tokens: int = 0,
    ) -> AsyncIterator[None]:
        """Hold one of the tenant's slots for the block, after its budgets allow it."""
        buckets = []
        if requests_per_minute:
            buckets.append(Bucket(f"{tenant_id}:{self.kind}:requests", requests_per_minute))
        if tokens_per_minute and tokens > 0:
            buckets.append(Bucket(f"{tenant_id}:{self.kind}:tokens", tokens_per_minute, tokens))
        slots = self._slots_of(tenant_id, concurrency)
        slots.users += 1
        try:
            async with slots.semaphore:
                if buckets:
                    await self._spend(buckets, deadline)
                yield
        finally:
            slots.users -= 1
            if not slots.users and self._slots.get(tenant_id) is slots:
                del self._slots[tenant_id]

    def _slots_of(self, tenant_id: str, size: int) -> _Slots:
        size = max(1, size)
        known = self._slots.get(tenant_id)
        if known is None or known.size != size:
            # A changed limit takes a new semaphore; calls holding the old one finish on it.
            known = self._slots[tenant_id] = _Slots(size, asyncio.Semaphore(size))
        return known

    async def _spend(self, buckets: list[Bucket], deadline: float) -> None:
        """Both budgets in one round trip; wait for them while the deadline allows."""
        if self.limiter is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            decision = await self.limiter.take_all(buckets)
            if decision.allowed:
                return
            if loop.time() + decision.retry_after_s > deadline:
                spent = ", ".join(f"{b.per_minute:g} {b.key.rsplit(':', 1)[1]}" for b in buckets)
                raise RateLimited(
                    f"the {self.kind} budget ({spent} per minute) is spent for this tenant",
                    retry_after=decision.retry_after_s,
                )
            await asyncio.sleep(decision.retry_after_s)

"""Admission: bounded in-flight queries per tenant and per process, no waiting room.

A query that finds its tenant's bound reached answers 429, one that finds the
process full answers 503, both at once with ``Retry-After``: under overload the
client backs off instead of queueing behind work that may pass its deadline.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import Gauge

from ragapi_common.errors import DependencyUnavailable, RateLimited


class Ticket:
    """One admitted query; :meth:`release` is idempotent."""

    def __init__(self, admission: Admission, tenant_id: str) -> None:
        self._admission = admission
        self.tenant_id = tenant_id
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release(self.tenant_id)


class Admission:
    """In-flight counters; single event loop, so plain ints are race-free."""

    def __init__(
        self, *, per_tenant: int, total: int, retry_after_s: float, gauge: Gauge | None = None
    ) -> None:
        self.per_tenant = per_tenant
        self.total = total
        self.retry_after_s = retry_after_s
        self._gauge = gauge
        self._by_tenant: Counter[str] = Counter()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def acquire(self, tenant_id: str) -> Ticket:
        """A slot for one query, or 503 (process full) / 429 (tenant's bound) at once."""
        if self._in_flight >= self.total:
            raise DependencyUnavailable(
                "the query service is at capacity", retry_after=self.retry_after_s
            )
        if self._by_tenant[tenant_id] >= self.per_tenant:
            raise RateLimited(
                f"more than {self.per_tenant} queries in flight for this tenant",
                retry_after=self.retry_after_s,
            )
        self._by_tenant[tenant_id] += 1
        self._in_flight += 1
        if self._gauge is not None:
            self._gauge.set(self._in_flight)
        return Ticket(self, tenant_id)

    def _release(self, tenant_id: str) -> None:
        self._in_flight -= 1
        self._by_tenant[tenant_id] -= 1
        if self._by_tenant[tenant_id] <= 0:
            del self._by_tenant[tenant_id]
        if self._gauge is not None:
            self._gauge.set(self._in_flight)

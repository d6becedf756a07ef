"""A dependency is down: each adapter names its library's errors, here they meet.

Redis (:mod:`.redis_pool`), NATS (:mod:`.bus.outages`) and PostgreSQL
(:mod:`.rag.outages`) each export ``OUTAGES``. :func:`unavailable` turns one of them
into the contract's 503 with ``Retry-After``: :mod:`.web` answers it to HTTP clients,
the bus to request/reply callers, and job workers wait for the dependency instead of
failing the job. A 500 stays what it is: a bug.
"""

from __future__ import annotations

import errno

from ragapi_common import redis_pool
from ragapi_common.bus import outages as bus_outages
from ragapi_common.errors import DependencyUnavailable, InsufficientStorage
from ragapi_common.rag import outages as rag_outages

#: Seconds a client is told to wait: a restarted server is back within a few.
RETRY_AFTER_S = 1.0
#: ... and when a disk is full: someone has to free space first.
FULL_RETRY_AFTER_S = 60.0

_BY_DEPENDENCY: tuple[tuple[str, tuple[type[Exception], ...]], ...] = (
    ("Redis", redis_pool.OUTAGES),
    ("NATS", bus_outages.OUTAGES),
    ("PostgreSQL", rag_outages.OUTAGES),
    # Refused or reset by the peer: how asyncpg (and any plain socket client) says so.
    ("a dependency", (ConnectionError,)),
)

OUTAGES: tuple[type[Exception], ...] = tuple(kind for _, kinds in _BY_DEPENDENCY for kind in kinds)


def unavailable(error: BaseException) -> DependencyUnavailable | None:
    """The 503 ``error`` means if it is an outage of a dependency, else None."""
    for name, kinds in _BY_DEPENDENCY:
        if isinstance(error, kinds):
            return DependencyUnavailable(
                f"{name} is unavailable ({type(error).__name__}); retry shortly",
                retry_after=RETRY_AFTER_S,
            )
    return None


#: Errors that may say a disk is full (:func:`storage_full` tells): the web layer
#: answers 507 for those that do, a 500 for the rest.
FULL_DISK: tuple[type[Exception], ...] = redis_pool.WRITE_ERRORS + bus_outages.STORE_ERRORS
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def storage_full(error: BaseException) -> InsufficientStorage | None:
    """The 507 ``error`` means if a disk is full (ours, Redis's or JetStream's), else None."""
    if isinstance(error, OSError) and error.errno in _NO_SPACE:
        where = "the server's disk"
    elif redis_pool.refuses_writes(error):
        where = "Redis (it cannot persist writes)"
    elif bus_outages.store_full(error):
        where = "the NATS JetStream store"
    else:
        return None
    return InsufficientStorage(
        f"not enough disk space: {where} is full; nothing was stored, retry once space is freed",
        retry_after=FULL_RETRY_AFTER_S,
    )

"""Whether every process's PostgreSQL pool fits the server's ``max_connections``.

Each process of the ``postgres`` profile (every ingest and query replica, times
its workers) opens one asyncpg pool of up to ``RAGAPI_POSTGRES_MAX_CONNECTIONS``
connections. They fit when

    processes x pool <= max_connections - server reserve - our reserve

where the server reserve is PostgreSQL's ``superuser_reserved_connections`` plus
``reserved_connections`` (16+), and ours (``RAGAPI_POSTGRES_RESERVED_CONNECTIONS``)
is what operators, migrations and monitoring need besides. ``processes`` is
``RAGAPI_POSTGRES_PROCESSES``: the most pools the deployment can open at once
(the HPAs' ``maxReplicas`` summed, times workers per pod). When the pools do not
fit, the process says so with the numbers and the largest pool that fits;
behind PgBouncer (transaction mode) the server side is PgBouncer's
``default_pool_size`` instead (docs/decisions/0603).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_SERVER_LIMITS = """SELECT current_setting('max_connections')::int AS max_connections,
    current_setting('superuser_reserved_connections')::int AS superuser_reserved,
    coalesce(current_setting('reserved_connections', true), '0')::int AS reserved"""


@dataclass(frozen=True)
class Planned:
    """What the settings plan for: processes, each one's pool, connections kept free."""

    processes: int
    pool: int
    reserve: int


@dataclass(frozen=True)
class Budget:
    planned: Planned
    max_connections: int
    server_reserved: int

    @property
    def available(self) -> int:
        return self.max_connections - self.server_reserved - self.planned.reserve

    @property
    def needed(self) -> int:
        return self.planned.processes * self.planned.pool

    @property
    def fits(self) -> bool:
        return self.needed <= self.available

    @property
    def largest_pool(self) -> int:
        return max(0, self.available // self.planned.processes)

    def explain(self) -> str:
        p = self.planned
        return (
            f"{p.processes} processes x {p.pool} connections = {self.needed}, but PostgreSQL's"
            f" max_connections {self.max_connections} - {self.server_reserved} reserved by the"
            f" server - {p.reserve} kept free (RAGAPI_POSTGRES_RESERVED_CONNECTIONS) leaves"
            f" {self.available}: set RAGAPI_POSTGRES_MAX_CONNECTIONS <= {self.largest_pool},"
            " raise max_connections, or put PgBouncer in front"
        )


async def check(db: Any, planned: Planned) -> Budget:
    """Read the server's limits through LightRAG's client ``db``; warn when the pools cannot fit."""
    row = await db.query(_SERVER_LIMITS)
    budget = Budget(
        planned,
        max_connections=int(row["max_connections"]),
        server_reserved=int(row["superuser_reserved"]) + int(row["reserved"]),
    )
    if not budget.fits:
        log.warning("PostgreSQL pools cannot all fit: %s", budget.explain())
    return budget

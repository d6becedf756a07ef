"""What counts as a PostgreSQL outage (the ``postgres`` profile), importable without LightRAG.

LightRAG's PG storages retry these a few times (``POSTGRES_CONNECTION_RETRIES``, set
by :mod:`.postgres`) and then let the last one through. Empty where asyncpg is not
installed (images without the ``postgres`` extra): nothing can raise its errors there.
"""

from __future__ import annotations

try:
    import asyncpg  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - depends on the image
    asyncpg = None

#: The connection failed or was lost, the server is starting, shutting down or refusing
#: more connections. (A refused connect is the OS's own ConnectionRefusedError, which
#: :mod:`ragapi_common.outages` counts for any dependency.)
OUTAGES: tuple[type[Exception], ...] = (
    ()
    if asyncpg is None
    else (
        asyncpg.PostgresConnectionError,
        asyncpg.TooManyConnectionsError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
    )
)

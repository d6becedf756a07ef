"""The query service's settings (``RAGAPI_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field

from ragapi_common.settings import CommonSettings


class QuerySettings(CommonSettings):
    """Limits that keep the query path bounded under load.

    ``request_deadline_s`` (from :class:`CommonSettings`, default 120 s) bounds each
    query; past it the work is cancelled and the answer is 504.
    """

    service_name: str = "query"
    #: Queries served at once by one tenant; beyond it 429 at once (no queue).
    max_in_flight_per_tenant: int = Field(default=128, ge=1)
    #: Queries served at once by this process; beyond it 503 at once (no queue).
    max_in_flight: int = Field(default=512, ge=1)
    #: What ``Retry-After`` says when an in-flight bound is reached.
    busy_retry_after_s: float = Field(default=1.0, gt=0)
    #: Keep-alive comment on an idle SSE stream, for proxies.
    sse_ping_s: float = Field(default=15.0, gt=0)
    #: Largest JSON body of ``/v1/query`` and ``/v1/chat/completions``; past it 413.
    max_query_body_bytes: int = Field(default=1024 * 1024, ge=1024)

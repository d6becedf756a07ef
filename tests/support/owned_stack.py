"""The three HTTP services in the test's loop on a NATS and a Redis the test owns.

For tests that kill, stop or starve those servers while the services run
(``tests/outage``, ``tests/faults``): each fixture adds only what it changes.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragapi_common.metrics import Metrics
from ragapi_common.rag.registry import open_registry
from ragapi_ingest.app import create_app as create_ingest_app
from ragapi_ingest.settings import IngestSettings
from ragapi_query.app import create_app as create_query_app
from ragapi_query.settings import QuerySettings
from ragapi_tenants.app import create_app as create_tenants_app
from ragapi_tenants.settings import TenantsSettings
from tests.query.serving import serving
from tests.support.apps import ADMIN_TOKEN, SECRET_KEY
from tests.support.fake_provider import FakeProvider
from tests.support.servers import OwnedServer, owned_nats, owned_redis


@dataclass
class Owned:
    nats: OwnedServer
    redis: OwnedServer
    fake: FakeProvider
    tenants: str
    ingest: str
    query: str


async def start_owned(
    stack: AsyncExitStack,
    root: Path,
    settings: dict[str, Any] | None = None,
    *,
    tenants: dict[str, Any] | None = None,
    ingest: dict[str, Any] | None = None,
) -> Owned:
    """NATS, Redis and the fake provider, then tenants, ingest and query serving on them.

    ``settings`` go to every service, ``tenants`` / ``ingest`` to that service only;
    everything stops when ``stack`` closes.
    """
    for name in ("nats", "redis", "data"):
        (root / name).mkdir(exist_ok=True)
    nats, redis = owned_nats(root / "nats"), owned_redis(root / "redis")
    for server in (nats, redis):
        await server.start()
        stack.push_async_callback(server.stop)
    fake = await stack.enter_async_context(FakeProvider())
    common: dict[str, Any] = {
        "nats_url": nats.url,
        "redis_url": redis.url,
        "data_dir": root / "data",
        "admin_token": ADMIN_TOKEN,
        "secret_key": SECRET_KEY,
        "log_json": False,
        # Keys resolved once stay cached for the whole test: what needs the tenants
        # service is decided by the test (a fresh key), not by a TTL running out.
        "auth_cache_ttl_s": 600.0,
        "llm_base_url": fake.base_url,
        "llm_model": "fake-llm",
        "llm_api_key": "sk-fake",
        "embedding_base_url": fake.base_url,
        "embedding_model": "fake-embedding",
        "embedding_dim": 64,
        **(settings or {}),
    }
    metrics = Metrics()
    query_settings = QuerySettings(**common)
    rag = open_registry(query_settings, metrics=metrics)
    stack.push_async_callback(rag.close)
    apps = [
        create_tenants_app(TenantsSettings(**common, **(tenants or {})), metrics=Metrics()),
        create_ingest_app(IngestSettings(**common, **(ingest or {})), metrics=metrics, rag=rag),
        create_query_app(query_settings, metrics=Metrics(), rag=rag),
    ]
    urls = [await stack.enter_async_context(serving(app)) for app in apps]
    return Owned(nats, redis, fake, *urls)

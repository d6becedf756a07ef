"""All four services in one test, each with its own settings (and so its own NATS user)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ragapi_common.metrics import Metrics
from ragapi_common.rag.registry import open_registry
from ragapi_ingest.app import create_app as create_ingest_app
from ragapi_ingest.settings import IngestSettings
from ragapi_ocr.app import create_app as create_ocr_app
from ragapi_ocr.settings import OcrSettings
from ragapi_query.app import create_app as create_query_app
from ragapi_query.settings import QuerySettings
from ragapi_tenants.app import create_app as create_tenants_app
from ragapi_tenants.settings import TenantsSettings
from tests.support.apps import ADMIN_TOKEN, running

#: service name -> keyword arguments of its settings class
SettingsFor = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Services:
    tenants: httpx.AsyncClient
    ingest: httpx.AsyncClient
    ocr: httpx.AsyncClient
    query: httpx.AsyncClient


@asynccontextmanager
async def four_services(settings_for: SettingsFor) -> AsyncIterator[Services]:
    """tenants, ingest (with workers), ocr and query, started in that order."""
    async with AsyncExitStack() as stack:
        tenants = create_tenants_app(TenantsSettings(**settings_for("tenants")))
        admin = f"Bearer {ADMIN_TOKEN}"
        tenants_client = await stack.enter_async_context(running(tenants, authorization=admin))
        metrics = Metrics()
        ingest_settings = IngestSettings(**settings_for("ingest"))
        rag = open_registry(ingest_settings, metrics=metrics)
        stack.push_async_callback(rag.close)
        ingest = create_ingest_app(ingest_settings, metrics=metrics, rag=rag)
        ocr = create_ocr_app(OcrSettings(ocr_processes=1, **settings_for("ocr")))
        query = create_query_app(QuerySettings(**settings_for("query")), metrics=Metrics(), rag=rag)
        yield Services(
            tenants_client,
            await stack.enter_async_context(running(ingest)),
            await stack.enter_async_context(running(ocr)),
            await stack.enter_async_context(running(query)),
        )

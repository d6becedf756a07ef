"""Run a service app (lifespan included) and talk to it over httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette

ADMIN_TOKEN = "test-admin-token"
SECRET_KEY = "test-secret-key"


@asynccontextmanager
async def running(app: Starlette, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan and yield a client that calls it in-process."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers=headers,
            timeout=60,
        ) as client,
    ):
        yield client


@dataclass(frozen=True)
class TenantHandle:
    """A tenant created for a test, with the API key that acts for it."""

    id: str
    api_key: str
    headers: dict[str, str] = field(default_factory=dict)

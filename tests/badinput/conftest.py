"""One ``ragapi up`` for the bad-input cases, a fresh tenant per test, and a probe.

The stack's read timeout is short (3 s) so that the slow-loris cases end quickly.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.probe import Probe, probing
from tests.support.upstack import Stack, running_stack

READ_TIMEOUT_S = 3.0
_numbers = itertools.count(1)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("badinput")
    with running_stack(work, RAGAPI_HTTP_READ_TIMEOUT_S=str(READ_TIMEOUT_S)) as running:
        yield running


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a tenant of its own, created for this test."""
    admin = {"authorization": f"Bearer {stack.admin_token}"}
    async with httpx.AsyncClient(base_url=stack.url, timeout=120) as http:
        tenant = f"bad-{next(_numbers)}"
        created = await http.post("/v1/tenants", json={"id": tenant, "name": tenant}, headers=admin)
        assert created.status_code == 201, created.text
        http.headers["authorization"] = f"Bearer {created.json()['api_key']}"
        yield http


@pytest.fixture
def probe(stack: Stack) -> Iterator[Probe]:
    """The default tenant listing its documents every 100 ms, each within 1 s (scaled)."""
    with probing(stack.url, {"authorization": f"Bearer {stack.tenant_key}"}) as running:
        yield running

"""Fifty tenants at once: each ingests and queries concurrently and cites only its own text.

A file of its own: the longest test of the query tier runs on its own pytest-xdist worker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import TenantFactory

from .conftest import UNLIMITED, QueryStack


@pytest.fixture
def common_settings(common_settings: dict[str, Any]) -> dict[str, Any]:
    """Keys stay cached for the whole test: the tenants service shares this busy event loop
    and answers lookups one at a time, so 100 lookups after a 30 s expiry time out here."""
    return {**common_settings, "auth_cache_ttl_s": 3600.0}


@pytest.mark.timeout(1200)  # 50 tenants' first ingest at once, each building its own index
async def test_50_tenants_querying_at_once_each_cite_only_their_own_document(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenants = [await tenant_factory(config=UNLIMITED) for _ in range(50)]
    for tenant in tenants:
        # The tenants service answers key lookups one at a time: resolve each key once in
        # both services so the bursts below measure ingest and query, not cold lookups.
        assert (await query_stack.client.get("/v1/models", headers=tenant.headers)).is_success
        assert (await query_stack.ingest.get("/v1/documents", headers=tenant.headers)).is_success
    own = await asyncio.gather(
        *(
            query_stack.add_documents(
                t,
                {f"codeword-{n}.txt": f"The Harbour codeword is Falcon{n} for tenant {n}."},
                wait_s=720,
            )
            for n, t in enumerate(tenants)
        )
    )

    responses = await asyncio.gather(
        *(
            query_stack.query(t, query="What is the Harbour codeword?", mode="naive")
            for t in tenants
        )
    )

    for n, response in enumerate(responses):
        assert response.status_code == 200, response.text
        cited = {ref["doc_id"] for ref in response.json()["references"]}
        assert cited == set(own[n].values()), (n, cited)
        assert f"Falcon{n} " in response.json()["answer"] + " "

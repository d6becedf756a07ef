"""Ingest and query with vectors in Qdrant (qdrant-client's local mode, in process).

The query stack's loop guard (asyncio debug mode, 100 ms) runs over all of it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ragapi_common.rag import qdrant
from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle

from .conftest import UNLIMITED, QueryStack, StackFactory
from .test_query import CORPUS, MODES, QUESTION

QDRANT = {"vector_store": "qdrant", "qdrant_url": ":memory:"}


async def _points(tenant: TenantHandle) -> dict[str, int]:
    return {name: n for name, n in (await qdrant.count(tenant.id)).items() if n}


async def _delete(stack: QueryStack, tenant: TenantHandle, doc_id: str) -> None:
    response = await stack.ingest.delete(f"/v1/documents/{doc_id}", headers=tenant.headers)
    assert response.status_code == 202, response.text
    task: dict[str, Any] = {}
    async with asyncio.timeout(120):
        while task.get("status") not in ("succeeded", "failed", "partial"):
            await asyncio.sleep(0.1)
            url = f"/v1/tasks/{response.json()['task_id']}"
            task = (await stack.ingest.get(url, headers=tenant.headers)).json()
    assert task["status"] == "succeeded", task


@pytest.mark.parametrize("mode", MODES)
async def test_ingest_query_delete_and_purge_with_qdrant_vectors(
    make_stack: StackFactory, tenant_factory: TenantFactory, mode: str
) -> None:
    stack = await make_stack(**QDRANT)
    tenant, other = await tenant_factory(config=UNLIMITED), await tenant_factory(config=UNLIMITED)
    ids = await stack.add_documents(tenant, CORPUS)

    response = await stack.query(tenant, query=QUESTION, mode=mode)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["references"][0]["doc_id"] == ids["lighthouse.txt"]
    assert "Brightwater Lighthouse" in body["answer"]
    # The vectors are in Qdrant, one collection per namespace and dimension, not in files.
    stored = await _points(tenant)
    assert set(stored) == {f"ragapi_{ns}_64" for ns in ("chunks", "entities", "relationships")}
    assert not list((stack.settings.tenants_dir / tenant.id).glob("vdb_*.json"))
    # Another tenant of the same collections finds nothing of it.
    empty = await stack.query(other, query=QUESTION, mode=mode, only_context=True)
    assert empty.status_code == 200, empty.text
    assert "Brightwater" not in empty.text

    await _delete(stack, tenant, ids["lighthouse.txt"])
    after = await _points(tenant)
    assert after["ragapi_chunks_64"] < stored["ragapi_chunks_64"]
    answer = (await stack.query(tenant, query=QUESTION, mode=mode)).json()
    assert all(ref["doc_id"] != ids["lighthouse.txt"] for ref in answer["references"])

    await stack.rag.drop(tenant.id)  # what a tenant's deletion runs
    assert await _points(tenant) == {}

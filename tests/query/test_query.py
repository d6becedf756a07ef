"""``POST /v1/query``: every mode, only_context, history, references, auth and validation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import TenantFactory
from tests.support.fake_provider import CHAT

from .conftest import UNLIMITED, QueryStack

CORPUS = {
    "lighthouse.txt": (
        "The Brightwater Lighthouse stands on Gannet Point. "
        "Keeper Odile Marchetti has tended the Brightwater Lighthouse since 1987. "
        "The lamp of the Brightwater Lighthouse flashes green every nine seconds."
    ),
    "bakery.txt": (
        "The Kessler Bakery sells rye bread in Old Harbour. "
        "Baker Henrik Kessler opened the Kessler Bakery in 1962. "
        "The Kessler Bakery ovens burn beech wood every morning."
    ),
    "observatory.txt": (
        "The Vantaa Observatory watches variable stars. "
        "Astronomer Priya Raman directs the Vantaa Observatory. "
        "The Vantaa Observatory telescope has a mirror of two metres."
    ),
}
QUESTION = "Who tends the Brightwater Lighthouse on Gannet Point?"
MODES = ("naive", "local", "global", "hybrid", "mix")


@pytest.mark.parametrize("mode", MODES)
async def test_every_mode_answers_and_cites_the_right_document(
    query_stack: QueryStack, tenant_factory: TenantFactory, mode: str
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    ids = await query_stack.add_documents(tenant, CORPUS)

    response = await query_stack.query(tenant, query=QUESTION, mode=mode)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == mode
    assert body["llm"] is True
    assert body["references"], body
    assert body["references"][0]["doc_id"] == ids["lighthouse.txt"]
    assert body["references"][0]["name"] == "lighthouse.txt"
    assert "Brightwater" in body["references"][0]["excerpt"]
    # The fake LLM quotes the context it was given: the lighthouse passage reached it.
    assert "Brightwater Lighthouse" in body["answer"]


async def test_mode_defaults_to_the_tenants_config_then_mix(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    configured = await tenant_factory(config={**UNLIMITED, "query": {"mode": "naive"}})
    plain = await tenant_factory(config=UNLIMITED)
    await query_stack.add_documents(configured, {"lighthouse.txt": CORPUS["lighthouse.txt"]})
    await query_stack.add_documents(plain, {"lighthouse.txt": CORPUS["lighthouse.txt"]})

    assert (await query_stack.query(configured, query=QUESTION)).json()["mode"] == "naive"
    assert (await query_stack.query(plain, query=QUESTION)).json()["mode"] == "mix"


async def test_only_context_returns_the_retrieved_passages_without_generating(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    ids = await query_stack.add_documents(tenant, CORPUS)
    chats_before = len(query_stack.fake.requests_to(CHAT))

    response = await query_stack.query(tenant, query=QUESTION, mode="naive", only_context=True)

    body = response.json()
    assert response.status_code == 200, body
    assert "Odile Marchetti" in body["answer"]
    assert body["llm"] is False
    assert body["references"][0]["doc_id"] == ids["lighthouse.txt"]
    assert len(query_stack.fake.requests_to(CHAT)) == chats_before


async def test_conversation_history_reaches_the_llm_prompt(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    await query_stack.add_documents(tenant, CORPUS)
    history = [
        {"role": "user", "content": "Tell me about lighthouse keepers (marker-7f3a)."},
        {"role": "assistant", "content": "Keepers tend lamps (marker-9c1e)."},
    ]

    response = await query_stack.query(
        tenant, query="And who is the keeper there?", mode="naive", conversation_history=history
    )

    assert response.status_code == 200, response.text
    prompts = [str(r["json"]["messages"]) for r in query_stack.fake.requests_to(CHAT)]
    assert any("marker-7f3a" in p and "marker-9c1e" in p for p in prompts)


async def test_include_references_false_answers_without_them(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    await query_stack.add_documents(tenant, CORPUS)
    response = await query_stack.query(
        tenant, query=QUESTION, mode="naive", include_references=False
    )
    assert response.status_code == 200
    assert response.json()["references"] == []
    assert "Brightwater" in response.json()["answer"]


async def test_bad_requests_get_the_contract_errors(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    client = query_stack.client

    missing_key = await client.post("/v1/query", json={"query": "x"})
    assert missing_key.status_code == 401
    assert missing_key.json()["error"]["code"] == "unauthorized"
    wrong_key = await client.post(
        "/v1/query", json={"query": "x"}, headers={"authorization": "Bearer nope"}
    )
    assert wrong_key.status_code == 401

    not_json = await client.post("/v1/query", content=b"{", headers=tenant.headers)
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "bad_request"

    invalid = await query_stack.query(tenant, query="", mode="sideways", top_k=0)
    assert invalid.status_code == 422
    fields = {d["field"] for d in invalid.json()["error"]["details"]}
    assert fields == {"query", "mode", "top_k"}

    bad_graph = await client.get("/v1/graph?max_nodes=0", headers=tenant.headers)
    assert bad_graph.status_code == 422


async def test_graph_shows_the_entities_around_a_label(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    await query_stack.add_documents(tenant, CORPUS)

    response = await query_stack.client.get(
        "/v1/graph",
        params={"label": "Brightwater Lighthouse", "max_depth": 1, "max_nodes": 50},
        headers=tenant.headers,
    )

    assert response.status_code == 200, response.text
    graph = response.json()
    labels = {str(node.get("id")) for node in graph["nodes"]}
    assert "Brightwater Lighthouse" in labels
    assert graph["edges"], graph
    assert not any("Kessler" in label for label in labels)


async def test_openapi_describes_every_endpoint(query_stack: QueryStack) -> None:
    doc = (await query_stack.client.get("/openapi.json")).json()
    assert {"/v1/query", "/v1/chat/completions", "/v1/models", "/v1/graph"} <= set(doc["paths"])
    query = doc["paths"]["/v1/query"]["post"]
    assert {"200", "401", "422", "429", "503", "504"} <= set(query["responses"])
    assert "text/event-stream" in query["responses"]["200"]["content"]


async def test_an_updated_tenant_loses_its_cached_instance(
    query_stack: QueryStack, tenant_factory: TenantFactory, tenants_client: httpx.AsyncClient
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    await query_stack.add_documents(tenant, CORPUS)
    assert (await query_stack.query(tenant, query=QUESTION, mode="naive")).status_code == 200
    registry: Any = query_stack.rag
    assert tenant.id in registry.loaded()

    patched = await tenants_client.patch(
        f"/v1/tenants/{tenant.id}", json={"config": {"query": {"top_k": 5}}}
    )

    assert patched.status_code == 200
    for _ in range(100):
        if tenant.id not in registry.loaded():
            break
        await asyncio.sleep(0.02)
    assert tenant.id not in registry.loaded()
    again = await query_stack.query(tenant, query=QUESTION, mode="naive")
    assert again.json()["references"][0]["name"] == "lighthouse.txt"

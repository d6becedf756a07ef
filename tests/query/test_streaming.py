"""SSE answers: event order, the error event, and a client that leaves cancelling the LLM."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.conftest import TenantFactory
from tests.support.fake_provider import CHAT

from .conftest import UNLIMITED, QueryStack, StackFactory
from .test_query import CORPUS, QUESTION


async def read_events(response: httpx.Response) -> list[tuple[str, Any]]:
    """(event, data) of each SSE message until the stream ends."""
    events: list[tuple[str, Any]] = []
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif not line and data:
            events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
    return events


async def test_stream_sends_references_then_deltas_then_done(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    ids = await query_stack.add_documents(tenant, CORPUS)
    body = {"query": QUESTION, "mode": "naive", "stream": True}

    async with query_stack.client.stream(
        "POST", "/v1/query", json=body, headers=tenant.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await read_events(response)

    names = [name for name, _ in events]
    assert names[0] == "references"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert len(names) > 3
    assert events[0][1]["references"][0]["doc_id"] == ids["lighthouse.txt"]
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert "Brightwater Lighthouse" in text
    assert events[-1][1] == {"mode": "naive", "llm": True}
    # The streamed text is the same answer the JSON form gives.
    whole = await query_stack.query(tenant, query=QUESTION, mode="naive")
    assert whole.json()["answer"] == text


async def test_a_failure_before_streaming_answers_json_and_mid_stream_an_error_event(
    make_stack: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_stack(request_deadline_s=1.5)
    tenant = await tenant_factory(config=UNLIMITED)
    await stack.add_documents(tenant, CORPUS)
    body = {"query": QUESTION, "mode": "naive", "stream": True}

    # Each delta takes 0.4 s: a few arrive, then the deadline passes mid-answer.
    stack.fake.configure(chunk_delay_s=0.4)
    async with stack.client.stream("POST", "/v1/query", json=body, headers=tenant.headers) as r:
        assert r.status_code == 200
        events = await read_events(r)
    names = [name for name, _ in events]
    assert names[0] == "references"
    assert "delta" in names
    assert names[-1] == "error"
    assert events[-1][1]["error"]["code"] == "deadline_exceeded"

    # The LLM fails outright: nothing was sent yet, so the answer is a plain JSON error.
    stack.fake.configure(chunk_delay_s=0.0, fail_forever=True, fail_statuses=(400,))
    failed = await stack.client.post("/v1/query", json=body, headers=tenant.headers)
    assert failed.status_code >= 400, failed.text
    assert failed.headers["content-type"].startswith("application/json")
    assert "code" in failed.json()["error"]


async def test_a_client_that_disconnects_cancels_the_llm_stream(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    await query_stack.add_documents(tenant, CORPUS)
    fake = query_stack.fake
    fake.configure(chunk_delay_s=0.5)
    body = {"query": QUESTION, "mode": "naive", "stream": True}

    async with (
        httpx.AsyncClient(base_url=query_stack.url, timeout=30) as client,
        client.stream("POST", "/v1/query", json=body, headers=tenant.headers) as r,
    ):
        lines = r.aiter_lines()
        while "delta" not in await anext(lines):
            pass
    # Leaving the block closed the connection mid-answer.
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake.disconnects == 1
    assert fake.in_flight == 0
    metrics = (await query_stack.client.get("/metrics")).text
    assert "ragapi_queries_in_flight 0.0" in metrics
    assert 'ragapi_queries_total{kind="naive",outcome="cancelled"} 1.0' in metrics
    assert len(fake.requests_to(CHAT)) >= 1

"""Behaviour under load: concurrency without deadlock, tenant isolation, limits, deadlines."""

from __future__ import annotations

import asyncio
import re
import time

import httpx

from tests.conftest import TenantFactory

from .conftest import UNLIMITED, QueryStack, StackFactory
from .test_query import CORPUS, MODES, QUESTION


async def test_100_concurrent_queries_all_answer(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    ids = await query_stack.add_documents(tenant, CORPUS)
    query_stack.fake.configure(latency_s=0.05)

    responses = await asyncio.gather(
        *(
            query_stack.query(tenant, query=f"{QUESTION} ({n})", mode=MODES[n % len(MODES)])
            for n in range(100)
        )
    )

    failures = [r.text for r in responses if r.status_code != 200]
    assert not failures, failures[:3]
    assert all(r.json()["references"][0]["doc_id"] == ids["lighthouse.txt"] for r in responses)
    assert query_stack.fake.max_in_flight > 1, "queries ran concurrently"


async def test_queries_per_minute_answers_429_with_retry_after(
    query_stack: QueryStack, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config={"limits": {"queries_per_minute": 1}})
    await query_stack.add_documents(tenant, CORPUS)

    first = await query_stack.query(tenant, query=QUESTION, mode="naive")
    second = await query_stack.query(tenant, query=QUESTION, mode="naive")

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(second.headers["retry-after"]) <= 60
    # The refused query gave its in-flight slot back (it takes one before the budget).
    metrics = (await query_stack.client.get("/metrics")).text
    assert re.search(r"^ragapi_queries_in_flight 0\.0$", metrics, re.MULTILINE), metrics


async def test_in_flight_bounds_refuse_at_once_instead_of_queueing(
    make_stack: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_stack(max_in_flight_per_tenant=2, max_in_flight=3)
    busy, other, third = [await tenant_factory(config=UNLIMITED) for _ in range(3)]
    for tenant in (busy, other, third):
        await stack.add_documents(tenant, CORPUS)
    # Each slow query holds its slot for two model calls (query embedding, then the LLM):
    # ample time for the refusals below, however loaded the machine.
    stack.fake.configure(latency_s=3.0)

    slow = [
        asyncio.create_task(stack.query(busy, query=f"{QUESTION} {n}", mode="naive"))
        for n in range(2)
    ]
    await _until_in_flight(stack, 2)
    tenant_full = await stack.query(busy, query=QUESTION, mode="naive")
    assert tenant_full.status_code == 429
    assert tenant_full.headers["retry-after"] == "1"
    slow.append(asyncio.create_task(stack.query(other, query=QUESTION, mode="naive")))
    await _until_in_flight(stack, 3)
    process_full = await stack.query(third, query=QUESTION, mode="naive")
    assert process_full.status_code == 503
    assert process_full.headers["retry-after"] == "1"
    assert [r.status_code for r in await asyncio.gather(*slow)] == [200, 200, 200]


async def test_twice_the_bound_at_once_answers_the_bound_and_refuses_the_rest_at_once(
    make_stack: StackFactory, tenant_factory: TenantFactory
) -> None:
    bound = 6
    stack = await make_stack(max_in_flight_per_tenant=bound, max_in_flight=bound)
    tenants = [await tenant_factory(config=UNLIMITED) for _ in range(2)]
    for tenant in tenants:
        await stack.add_documents(tenant, CORPUS)
    stack.fake.configure(latency_s=3.0)  # every admitted query holds its slot for seconds

    async def timed(n: int) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = await stack.query(tenants[n % 2], query=f"{QUESTION} [{n}]", mode="naive")
        return response, time.monotonic() - started

    results = await asyncio.gather(*(timed(n) for n in range(2 * bound)))

    answered = [took for response, took in results if response.status_code == 200]
    refused = [(r, took) for r, took in results if r.status_code != 200]
    assert len(answered) == bound, [r.text for r, _ in refused]
    assert {r.status_code for r, _ in refused} <= {429, 503}
    assert all(r.headers["retry-after"] == "1" for r, _ in refused)
    # Refused at once, not queued: every refusal came back before the first answer did.
    assert max(took for _, took in refused) < min(answered)


async def _until_in_flight(stack: QueryStack, count: int) -> None:
    """Wait until ``count`` queries hold an admission slot (the service's own gauge)."""
    async with asyncio.timeout(60):
        while True:
            text = (await stack.client.get("/metrics")).text
            match = re.search(r"^ragapi_queries_in_flight (\S+)$", text, re.MULTILINE)
            if match and float(match.group(1)) >= count:
                return
            await asyncio.sleep(0.02)


async def test_past_the_deadline_the_answer_is_504(
    make_stack: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_stack(request_deadline_s=0.5)
    tenant = await tenant_factory(config=UNLIMITED)
    await stack.add_documents(tenant, CORPUS)
    # The model would take 30 s a call: an answer well before that came at the deadline,
    # with room for a loaded machine between the 0.5 s deadline and the 15 s bound.
    stack.fake.configure(latency_s=30.0)

    response = await stack.query(tenant, query=QUESTION, mode="naive")

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "deadline_exceeded"
    assert response.elapsed.total_seconds() < 15, "answered at the deadline, not after the model"

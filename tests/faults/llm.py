"""The model provider down or throttled for a while during ingest, with queries meanwhile.

Shared by ``test_llm_down.py`` (connections refused) and ``test_llm_throttled.py`` (429
with ``Retry-After``). ``RAGAPI_FAULT_LLM_OUTAGE_S`` sets the outage (the issue's 30 s
by default).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.ingest.pipeline import eventually
from tests.support.apps import TenantHandle
from tests.support.faults import Row, exactly_once, lightrag_entries
from tests.support.slowness import slowness

from .conftest import Stack, texts

BATCH = 12
OUTAGE_S = float(os.environ.get("RAGAPI_FAULT_LLM_OUTAGE_S", "30"))
#: A harness bound for the batch to end after the provider is back (breaker reset and
#: job backoff included).
FINISH_WITHIN_S = 240.0


@dataclass
class Queries:
    """Every query answer during the outage: (status, error code, seconds)."""

    seen: list[tuple[int, str, float]] = field(default_factory=list)

    async def ask(self, stack: Stack, tenant: TenantHandle) -> tuple[int, str, float]:
        began = time.perf_counter()
        answer = await stack.http.post(
            f"{stack.query}/v1/query", json={"query": "Which pier moors a lark?"},
            headers=tenant.headers,
        )  # fmt: skip
        took = time.perf_counter() - began
        code = answer.json().get("error", {}).get("code", "") if answer.status_code >= 400 else ""
        self.seen.append((answer.status_code, code, round(took, 2)))
        return self.seen[-1]


async def _answered(queries: Queries, stack: Stack, tenant: TenantHandle) -> bool:
    return (await queries.ask(stack, tenant))[0] == 200


async def provider_outage(
    stack: Stack,
    reliability: Row,
    begin: Callable[[], Awaitable[None]],
    end: Callable[[], Awaitable[None]],
) -> Queries:
    """A batch, the fault from ``begin`` for OUTAGE_S while queries go on, ``end``; then
    the recovery time (first query answered) and every document processed once."""
    reliability.client_saw = stack.observed.statuses
    tenant = await stack.tenant("pier")
    stack.fake.configure(latency_s=0.2)
    accepted = await stack.add_texts(tenant, texts("pier", BATCH))
    assert accepted.status_code == 202, accepted.text
    tasks = {accepted.json()["task_id"]: [d["doc_id"] for d in accepted.json()["documents"]]}
    async with asyncio.timeout(60 * slowness()):
        await stack.fake.until(lambda fake: len(fake.requests) >= 3)
    await begin()
    began, queries = time.monotonic(), Queries()
    while time.monotonic() - began < OUTAGE_S:
        status, _, _ = await queries.ask(stack, tenant)
        assert status == 503, queries.seen
        await asyncio.sleep(1)
    task = await stack.task(tenant, next(iter(tasks)))
    assert task is not None
    assert task["status"] == "running", "the batch ended before the fault: nothing tested"
    await end()
    back = time.monotonic()
    await eventually(lambda: _answered(queries, stack, tenant), timeout_s=60 * slowness())
    reliability.recovery_s = round(time.monotonic() - back, 2)
    for task_id in tasks:
        await stack.wait_task(tenant, task_id, FINISH_WITHIN_S)
    reliability.accepted = BATCH
    stored = await lightrag_entries(stack.data_dir, tenant.id)
    reliability.lost = await exactly_once(stack.http, stack.ingest, tenant.headers, tasks, stored)
    return queries

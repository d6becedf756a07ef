"""Index parallelism: one tenant's documents overlap within its bounds, idempotently, fairly."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import IndexJob
from ragapi_common.rag.tenant import LightRagTenant
from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle
from tests.support.fake_provider import CHAT, FakeProvider

from .conftest import IngestStack, StackFactory
from .pipeline import tenant_rag

#: Every chat call of the fake takes this long, so calls of concurrent documents overlap.
LATENCY_S = 0.3


@pytest.fixture
async def embeddings() -> AsyncIterator[FakeProvider]:
    """A second fake for embeddings, so the first one's in-flight count is LLM calls only."""
    async with FakeProvider() as provider:
        yield provider


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@pytest.fixture
def job_failures() -> Iterator[list[str]]:
    """Warnings and errors of the job workers (the app's logging setup bypasses caplog)."""
    found: list[str] = []
    handler, logger = _Collect(found), logging.getLogger("ragapi_common.bus.jobs")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def corpus(prefix: str, count: int) -> dict[str, str]:
    """One-chunk texts whose entities no other text shares (no merge summaries)."""
    return {
        f"{prefix}-{i}.txt": f"{prefix.title()}{i} Abbey stands in {prefix.title()}{i} Glen. "
        f"Brother {prefix.title()}{i} keeps bees at {prefix.title()}{i} Abbey."
        for i in range(count)
    }


async def stack_with(
    make_ingest: StackFactory, embeddings: FakeProvider, **settings: Any
) -> IngestStack:
    stack = await make_ingest(embedding_base_url=embeddings.base_url, **settings)
    stack.fake.configure(latency_s=LATENCY_S, paths=(CHAT,))
    return stack


def extractions(fake: FakeProvider) -> list[str]:
    """The text of every entity-extraction call (not gleaning, not summaries)."""
    found = []
    for request in fake.requests_to(CHAT):
        last = str(request["json"]["messages"][-1].get("content", ""))
        if "---Input Text---" in last:
            found.append(last)
    return found


@pytest.mark.parametrize(
    ("tenant_limit", "llm_limit", "bound"),
    [(2, 8, 2), (8, 3, 3)],
    ids=["documents-bound", "llm-bound"],
)
async def test_documents_of_one_tenant_overlap_within_its_bounds(
    make_ingest: StackFactory,
    embeddings: FakeProvider,
    tenant_factory: TenantFactory,
    tenant_limit: int,
    llm_limit: int,
    bound: int,
) -> None:
    stack = await stack_with(make_ingest, embeddings, index_tenant_limit=tenant_limit)
    tenant = await tenant_factory(config={"llm": {"max_concurrency": llm_limit}})
    body = await stack.texts(tenant, corpus("kell", 8))
    task = await stack.wait_task(tenant, body["task_id"])
    assert task["status"] == "succeeded", task
    # One-chunk documents make their LLM calls one after another, so calls overlap
    # only when documents do; the tenant's slots or its LLM bound caps the overlap.
    assert 1 < stack.fake.max_in_flight <= bound
    assert len(extractions(stack.fake)) == 8


async def test_a_job_redelivered_while_its_document_is_indexing_changes_nothing(
    make_ingest: StackFactory, embeddings: FakeProvider, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await stack_with(make_ingest, embeddings, index_tenant_limit=4)
    tenant = await tenant_factory()
    redelivered: list[str] = []

    async def redeliver(subject: str, job: IndexJob) -> None:
        # A second copy of each job, as JetStream sends after a lost ack.
        if job.tenant_id == tenant.id and job.doc_id not in redelivered:
            redelivered.append(job.doc_id)
            msg_id = f"index:{job.doc_id}:again-{secrets.token_hex(4)}"
            await bus.submit(subjects.JOB_INDEX, job, msg_id=msg_id)

    sub = await bus.subscribe(subjects.JOB_INDEX, IndexJob, redeliver)
    try:
        body = await stack.texts(tenant, corpus("morrow", 8))
        task = await stack.wait_task(tenant, body["task_id"])
        await _quiet(stack)
    finally:
        await sub.unsubscribe()
    assert task["status"] == "succeeded", task
    assert len(redelivered) == 8
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert isinstance(instance, LightRagTenant)
    for doc in task["documents"]:
        # Processed once, and not undone by the copy that found it processed.
        status = await instance.rag.doc_status.get_by_id(doc["doc_id"])
        assert status is not None
        assert status["status"] == "processed"
        assert status["chunks_list"] == [f"{doc['doc_id']}-chunk-000"]
    assert len(extractions(stack.fake)) == 8
    listing = await stack.client.get("/v1/documents?status=processed", headers=tenant.headers)
    assert len(listing.json()["documents"]) == 8


async def _quiet(stack: IngestStack, *, for_s: float = 1.5) -> None:
    """Wait until the fake has seen no call for ``for_s`` (the copies have run)."""
    async with asyncio.timeout(60):
        while True:
            seen = len(stack.fake.requests)
            await asyncio.sleep(for_s)
            if len(stack.fake.requests) == seen and stack.fake.in_flight == 0:
                return


async def test_a_second_tenant_is_served_while_a_first_has_a_backlog(
    make_ingest: StackFactory, embeddings: FakeProvider, tenant_factory: TenantFactory
) -> None:
    stack = await stack_with(
        make_ingest, embeddings, index_tenant_limit=2, index_total_limit=3, index_tenant_backlog=1
    )
    busy, other = await tenant_factory(), await tenant_factory()
    backlog = await stack.texts(busy, corpus("tarn", 24))
    await asyncio.sleep(0.5)  # the busy tenant's jobs are queued first
    small = await stack.texts(other, corpus("wick", 2))
    done = await stack.wait_task(other, small["task_id"])
    assert done["status"] == "succeeded", done
    behind = await _task(stack, busy, backlog["task_id"])
    # The two documents did not wait for the 24 queued before them.
    assert behind["done"] < 24, behind
    assert (await stack.wait_task(busy, backlog["task_id"]))["status"] == "succeeded"


async def _task(stack: IngestStack, tenant: TenantHandle, task_id: str) -> dict[str, Any]:
    response = await stack.client.get(f"/v1/tasks/{task_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_delete_is_not_starved_or_refused_while_documents_index(
    make_ingest: StackFactory,
    embeddings: FakeProvider,
    tenant_factory: TenantFactory,
    bus: Bus,
    job_failures: list[str],
) -> None:
    """LightRAG refuses a deletion while its pipeline runs: the delete waits for a gap."""
    stack = await stack_with(make_ingest, embeddings, index_tenant_limit=4)
    tenant = await tenant_factory()
    first = await stack.texts(tenant, corpus("osier", 1))
    (doc,) = (await stack.wait_task(tenant, first["task_id"]))["documents"]
    stream = await stack.texts(tenant, corpus("rush", 16))
    async with asyncio.timeout(30):
        await stack.fake.until(lambda fake: fake.in_flight >= 2)  # the stream is indexing
    deleted = await stack.client.delete(f"/v1/documents/{doc['doc_id']}", headers=tenant.headers)
    assert deleted.status_code == 202
    removal = await stack.wait_task(tenant, deleted.json()["task_id"])
    assert removal["status"] == "succeeded", removal
    assert job_failures == []  # not one refused attempt on the way
    rest = await _task(stack, tenant, stream["task_id"])
    assert rest["done"] < 16, rest  # the delete did not wait for the whole stream
    assert (await stack.wait_task(tenant, stream["task_id"]))["status"] == "succeeded"
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert isinstance(instance, LightRagTenant)
    assert await instance.rag.doc_status.get_by_id(doc["doc_id"]) is None

"""Answers without an LLM (extractive) and streamed answers with one."""

from __future__ import annotations

import asyncio

import pytest

from ragapi_common.errors import DependencyUnavailable
from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX
from tests.support.fake_provider import CHAT, FakeProvider


async def test_without_an_llm_documents_are_embedded_and_answers_are_extractive(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for(llm=False))
    report = await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    await tenant.insert_text("doc-o", "orchard.txt", ORCHARD)
    assert (report.chunks, report.entities, report.relations, report.llm) == (1, 0, 0, False)

    for mode in ("naive", "mix"):  # every mode falls back to vector search
        answer = await tenant.answer(Question("Who steers the Kelvin Falcon?", mode=mode))
        assert answer.llm is False
        assert answer.references[0].doc_id == "doc-f"
        assert answer.text.startswith(FALCON)
        assert answer.text.split("\n\n")[0].endswith("[1]")

    streamed = await tenant.answer_stream(Question("Cider in Normandy?", mode="hybrid"))
    assert streamed.llm is False
    assert streamed.references[0].doc_id == "doc-o"
    assert "Tangerine Orchard" in "".join([delta async for delta in streamed.deltas])
    assert fake.requests_to(CHAT) == []


async def test_only_context_returns_lightrag_context_and_references(
    registry: Registry, tenant_for: TenantFor
) -> None:
    tenant = await registry.get(tenant_for(llm=False))
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    found = await tenant.retrieve(Question("quantum toasters in Helsinki", mode="naive"))
    assert "Zorblax Industries builds quantum toasters" in found.context
    assert [(ref.doc_id, ref.name) for ref in found.references] == [("doc-z", "zorblax.txt")]
    assert found.references[0].excerpt.startswith("Zorblax Industries builds")


async def test_a_stream_gives_references_first_then_the_llm_deltas(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    streamed = await tenant.answer_stream(Question("Who steers the Kelvin Falcon?", mode="mix"))
    assert streamed.llm is True
    assert streamed.references[0].doc_id == "doc-f"
    deltas = [delta async for delta in streamed.deltas]
    assert len(deltas) > 1
    assert "Kelvin Falcon" in "".join(deltas)
    assert fake.requests_to(CHAT)[-1]["json"]["stream"] is True


async def test_closing_a_stream_stops_the_llm_generation(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    fake.configure(chunk_delay_s=0.2)
    streamed = await tenant.answer_stream(Question("Who steers the Kelvin Falcon?", mode="naive"))
    deltas = streamed.deltas
    assert await anext(deltas)
    await deltas.aclose()  # type: ignore[attr-defined]
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake.disconnects == 1
    assert tenant.active == 0


async def test_cancelling_the_consumer_stops_the_llm_generation(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    fake.configure(chunk_delay_s=0.2)
    streamed = await tenant.answer_stream(Question("Who steers the Kelvin Falcon?", mode="naive"))

    async def consume() -> None:
        async for _ in streamed.deltas:
            pass

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake.disconnects == 1


async def test_a_failing_llm_surfaces_as_the_clients_error(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    """Not LightRAG's canned "no answer": the query service must answer 503, not 200."""
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    fake.configure(fail_forever=True, paths=(CHAT,), fail_statuses=(503,))
    with pytest.raises(DependencyUnavailable):
        await tenant.answer(Question("Who is the captain of the steamer?", mode="naive"))
    with pytest.raises(DependencyUnavailable):
        await tenant.retrieve(Question("Who is the captain of the steamer?", mode="local"))

"""Text in, graph and retrieval out: every mode, idempotent re-inserts, deletion."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ragapi_common.errors import RagapiError
from ragapi_common.rag.api import QueryMode, Question, Turn
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX
from tests.support.fake_provider import CHAT, FakeProvider

MODES: list[QueryMode] = ["naive", "local", "global", "hybrid", "mix"]


async def stored_chunks(tenant: Any) -> list[str]:
    """Ids of every chunk vector in the tenant's store (``local`` profile)."""
    storage = await tenant.rag.chunks_vdb.client_storage
    return sorted(row["__id__"] for row in storage["data"])


async def test_insert_makes_graph_nodes_and_every_mode_retrieves_the_document(
    registry: Registry, tenant_for: TenantFor
) -> None:
    tenant = await registry.get(tenant_for())
    report = await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    assert report.llm is True
    assert report.chunks == 1
    assert report.entities >= 3
    assert report.relations >= 1

    graph = await tenant.graph(None, 2, 100)
    names = {node["id"] for node in graph.nodes}
    assert {"Zorblax Industries", "Marvin Quill", "Kelvin Falcon"} <= names
    assert graph.edges

    around = await tenant.graph("Marvin Quill", 1, 20)
    assert "Zorblax Industries" in {node["id"] for node in around.nodes}

    for mode in MODES:
        found = await tenant.retrieve(Question("Who founded Zorblax Industries?", mode=mode))
        assert found.references, mode
        assert found.references[0].doc_id == "doc-z", mode
        assert found.references[0].name == "zorblax.txt"
        assert "Marvin Quill" in found.context, mode


@pytest.mark.parametrize("mode", MODES)
async def test_answer_cites_the_document_that_reached_the_llm(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider, mode: QueryMode
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    await tenant.insert_text("doc-o", "orchard.txt", ORCHARD)
    answer = await tenant.answer(Question("Who steers the Kelvin Falcon?", mode=mode))
    assert answer.llm is True
    assert "doc-f" in [ref.doc_id for ref in answer.references]
    assert "Kelvin Falcon" in answer.text  # the fake quotes the context it was given
    assert fake.requests_to(CHAT)


async def test_conversation_history_reaches_the_llm(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    history = (Turn("user", "We talked about river boats."), Turn("assistant", "Yes, steamers."))
    await tenant.answer(Question("Who steers the Kelvin Falcon?", mode="naive", history=history))
    messages = fake.requests_to(CHAT)[-1]["json"]["messages"]
    assert {"role": "user", "content": "We talked about river boats."} in messages
    assert {"role": "assistant", "content": "Yes, steamers."} in messages


async def test_reinserting_a_document_keeps_one_copy(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    first = await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX * 40)
    chunks = await stored_chunks(tenant)
    calls = len(fake.requests_to(CHAT))
    second = await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX * 40)
    assert first.chunks > 1
    assert second == first
    assert await stored_chunks(tenant) == chunks
    assert len(fake.requests_to(CHAT)) == calls  # nothing was extracted again


async def test_a_failed_attempt_is_cleaned_up_and_redone_to_the_clean_result(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    clean = await registry.get(tenant_for())
    expected = await clean.insert_text("doc-z", "zorblax.txt", ZORBLAX * 40)

    tenant = await registry.get(tenant_for())
    fake.configure(fail_forever=True, paths=(CHAT,), fail_statuses=(500,))
    with pytest.raises(RagapiError):
        await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX * 40)
    status = await tenant.rag.doc_status.get_by_id("doc-z")
    assert status is not None
    assert status["status"] != "processed"

    fake.configure(fail_forever=False)
    redone = await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX * 40)
    assert redone == expected
    assert await stored_chunks(tenant) == await stored_chunks(clean)


async def test_a_document_enqueued_but_never_processed_is_redone(
    registry: Registry, tenant_for: TenantFor
) -> None:
    """What a process killed between LightRAG's enqueue and its processing leaves."""
    tenant = await registry.get(tenant_for())
    await tenant.rag.apipeline_enqueue_documents(
        FALCON, ids=["doc-f"], file_paths=["falcon.txt (doc-f)"]
    )
    report = await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    assert report.chunks == 1
    assert await stored_chunks(tenant) == ["doc-f-chunk-000"]


async def test_changed_text_under_the_same_id_replaces_the_old(
    registry: Registry, tenant_for: TenantFor
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-1", "notes.txt", ZORBLAX)
    await tenant.insert_text("doc-1", "notes.txt", FALCON)
    found = await tenant.retrieve(Question("Zorblax Industries toasters", mode="naive"))
    assert all("Zorblax" not in ref.excerpt for ref in found.references)
    assert await stored_chunks(tenant) == ["doc-1-chunk-000"]


async def test_deleted_documents_are_no_longer_retrieved(
    registry: Registry, tenant_for: TenantFor
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    await tenant.delete("doc-z")
    await tenant.delete("doc-z")  # a redelivered delete is a no-op
    for mode in MODES:
        found = await tenant.retrieve(Question("Who founded Zorblax Industries?", mode=mode))
        assert "doc-z" not in [ref.doc_id for ref in found.references], mode
    graph = await tenant.graph(None, 2, 100)
    assert "Marvin Quill" not in {node["id"] for node in graph.nodes}
    assert await stored_chunks(tenant) == ["doc-f-chunk-000"]


async def test_two_documents_may_share_a_name(registry: Registry, tenant_for: TenantFor) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-a", "notes.txt", ZORBLAX)
    await tenant.insert_text("doc-b", "notes.txt", FALCON)
    found = await tenant.retrieve(Question("Kelvin Falcon steamer Danube", mode="naive"))
    assert found.references[0] == found.references[0].__class__(
        doc_id="doc-b", name="notes.txt", excerpt=found.references[0].excerpt
    )


async def test_concurrent_inserts_of_one_tenant_each_store_their_chunks_once(
    registry: Registry, tenant_for: TenantFor
) -> None:
    tenant = await registry.get(tenant_for())
    reports = await asyncio.gather(
        tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX),
        tenant.insert_text("doc-f", "falcon.txt", FALCON),
        tenant.insert_text("doc-o", "orchard.txt", ORCHARD),
        tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX),  # a redelivery racing the first
    )
    assert [report.chunks for report in reports] == [1, 1, 1, 1]
    assert reports[0] == reports[3]
    assert await stored_chunks(tenant) == ["doc-f-chunk-000", "doc-o-chunk-000", "doc-z-chunk-000"]


async def test_a_document_left_processing_by_a_dead_process_is_redone(
    registry: Registry, tenant_for: TenantFor
) -> None:
    """A restart finds the document PROCESSING with part of its chunks written."""
    context = tenant_for()
    tenant = await registry.get(context)
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX * 40)
    expected = await stored_chunks(tenant)
    status = await tenant.rag.doc_status.get_by_id("doc-z")
    assert status is not None
    await tenant.rag.doc_status.upsert({"doc-z": {**status, "status": "processing"}})
    await tenant.rag.chunks_vdb.delete(expected[1:])  # the rest never got written
    await registry.evict(context.tenant_id)  # flushes, and forgets the memory: a restart

    restarted = await registry.get(context)
    report = await restarted.insert_text("doc-z", "zorblax.txt", ZORBLAX * 40)
    assert report.chunks == len(expected)
    assert await stored_chunks(restarted) == expected
    found = await restarted.retrieve(Question("Who founded Zorblax Industries?", mode="mix"))
    assert [ref.doc_id for ref in found.references] == ["doc-z"]

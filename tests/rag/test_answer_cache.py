"""LightRAG's cache of answers and keywords stays bounded; the extraction cache stays whole."""

from __future__ import annotations

from ragapi_common.rag import answer_cache
from ragapi_common.rag.api import Question
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import ZORBLAX
from tests.support.fake_provider import CHAT, FakeProvider


def _kinds(storage: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in storage._data:  # type: ignore[attr-defined]
        kind = key.split(":")[1]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


async def test_the_oldest_answers_beyond_the_bound_are_dropped_before_a_flush(
    registry: Registry, tenant_for: TenantFor
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    cache = tenant.rag.llm_response_cache
    extracted = _kinds(cache).get("extract", 0)
    assert extracted > 0
    for n in range(5):
        await tenant.answer(Question(f"Who founded Zorblax Industries? ({n})", mode="mix"))
    assert "query" not in _kinds(cache), "the queries' entries wait in the queue"
    await tenant.query_cache.write()
    assert _kinds(cache)["query"] == 5

    answers = {k: v for k, v in cache._data.items() if k.split(":")[1] != "extract"}
    newest = sorted(answers, key=lambda k: answers[k]["update_time"])[-3:]

    await answer_cache.flush_with_trim(tenant.query_cache, keep=3)()

    kept = [k for k in cache._data if k.split(":")[1] != "extract"]
    assert sorted(kept) == sorted(newest)
    assert _kinds(cache)["extract"] == extracted, "the extraction cache is never trimmed"


async def test_a_queued_answer_is_served_before_it_reaches_the_storage(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    tenant = await registry.get(tenant_for())
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    question = Question("Who founded Zorblax Industries?", mode="naive")
    first = await tenant.answer(question)
    asked = len(fake.requests_to(CHAT))
    assert tenant.query_cache.queued > 0

    again = await tenant.answer(question)
    assert again.text == first.text
    assert len(fake.requests_to(CHAT)) == asked, "answered from the queue, no LLM call"
    await tenant.cache_flush.close()
    assert tenant.query_cache.queued == 0
    assert "query" in _kinds(tenant.rag.llm_response_cache)

"""``/v1/chat/completions`` and ``/v1/models`` through the official ``openai`` client."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from tests.conftest import TenantFactory
from tests.support.fake_provider import CHAT

from .conftest import UNLIMITED, QueryStack, starting
from .loopguard import LoopGuard
from .test_query import CORPUS, QUESTION

ClientFor = Callable[[QueryStack, str], openai.AsyncOpenAI]


@pytest.fixture
def client_for(loop_guard: LoopGuard | None) -> ClientFor:
    """An unmodified ``openai`` client for the stack, acting with ``api_key``."""

    def make(stack: QueryStack, api_key: str) -> openai.AsyncOpenAI:
        with starting(loop_guard):  # the client's TLS context: its start-up, not our serving
            return openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key=api_key, max_retries=0)

    return make


async def test_openai_client_lists_the_rag_models(
    query_stack: QueryStack, tenant_factory: TenantFactory, client_for: ClientFor
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    async with client_for(query_stack, tenant.api_key) as client:
        models = [model.id async for model in client.models.list()]
    assert {"rag-naive", "rag-local", "rag-global", "rag-hybrid", "rag-mix"} <= set(models)


async def test_openai_client_gets_an_answer_with_sources(
    query_stack: QueryStack, tenant_factory: TenantFactory, client_for: ClientFor
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    ids = await query_stack.add_documents(tenant, CORPUS)
    messages = [
        {"role": "user", "content": "Which lights are there? (marker-5d2b)"},
        {"role": "assistant", "content": "There is a lighthouse."},
        {"role": "user", "content": QUESTION},
    ]
    async with client_for(query_stack, tenant.api_key) as client:
        completion = await client.chat.completions.create(model="rag-mix", messages=messages)  # type: ignore[arg-type]

    text = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    assert "Brightwater Lighthouse" in text
    assert f"Sources:\n[1] lighthouse.txt ({ids['lighthouse.txt']})" in text
    extra = completion.model_extra or {}
    assert extra["references"][0]["doc_id"] == ids["lighthouse.txt"]
    prompts = [str(r["json"]["messages"]) for r in query_stack.fake.requests_to(CHAT)]
    assert any("marker-5d2b" in p for p in prompts), "earlier messages are the history"


async def test_openai_client_streams_an_answer_ending_with_sources(
    query_stack: QueryStack, tenant_factory: TenantFactory, client_for: ClientFor
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    ids = await query_stack.add_documents(tenant, CORPUS)
    async with client_for(query_stack, tenant.api_key) as client:
        stream = await client.chat.completions.create(
            model="rag-naive", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert (chunks[0].model_extra or {})["references"][0]["doc_id"] == ids["lighthouse.txt"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "Brightwater Lighthouse" in text
    footer = text[text.index("\n\nSources:\n") :]
    assert footer.startswith(f"\n\nSources:\n[1] lighthouse.txt ({ids['lighthouse.txt']})")
    assert all(line.startswith("[") for line in footer.split("\n")[3:]), "the footer ends it"


async def test_openai_client_sees_contract_errors(
    query_stack: QueryStack, tenant_factory: TenantFactory, client_for: ClientFor
) -> None:
    tenant = await tenant_factory(config=UNLIMITED)
    async with client_for(query_stack, tenant.api_key) as client:
        with pytest.raises(openai.UnprocessableEntityError):
            await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
    async with client_for(query_stack, "wrong-key") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(
                model="rag-mix", messages=[{"role": "user", "content": "hi"}]
            )

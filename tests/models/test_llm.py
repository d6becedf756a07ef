"""LlmClient against a real fake provider: answers, streams, retries, limits, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import httpx
import pytest

from ragapi_common.errors import DependencyUnavailable, ProviderRejected
from ragapi_common.metrics import Metrics
from ragapi_common.models import LlmClient
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint
from tests.models.conftest import FAST_RETRIES, GENEROUS
from tests.support.fake_answers import IMAGE_MARKER
from tests.support.fake_provider import CHAT, FakeProvider

QUESTION = [{"role": "user", "content": "Say something."}]


@pytest.fixture
def llm(http: httpx.AsyncClient, limiter: RateLimiter) -> LlmClient:
    return LlmClient(http, limiter, policy=FAST_RETRIES)


async def test_complete_answers_and_sends_the_openai_body(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(reply="The answer is 42.")
    text = await llm.complete(
        tenant, endpoint, GENEROUS, QUESTION, max_tokens=50, temperature=0.0, extra_body={"x": 1}
    )
    assert text == "The answer is 42."
    [request] = fake.requests_to(CHAT)
    assert request["json"] == {
        "x": 1,
        "model": "fake-llm",
        "messages": QUESTION,
        "max_tokens": 50,
        "temperature": 0.0,
    }
    assert request["headers"]["authorization"] == "Bearer sk-test"


async def test_a_cut_off_answer_says_so(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(reply="a long answer " * 10)
    whole = await llm.complete(tenant, endpoint, GENEROUS, QUESTION)
    cut = await llm.complete(tenant, endpoint, GENEROUS, QUESTION, max_tokens=2)
    assert (whole.truncated, cut.truncated) == (False, True)
    assert cut == "a long a"


async def test_stream_yields_the_deltas_of_the_whole_answer(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(reply="one two three four five six seven", chunk_delay_s=0.0)
    deltas = [d async for d in llm.stream(tenant, endpoint, GENEROUS, QUESTION)]
    assert len(deltas) > 3
    assert "".join(deltas) == "one two three four five six seven"
    assert fake.requests_to(CHAT)[0]["json"]["stream"] is True
    assert fake.disconnects == 0


async def test_closing_a_stream_early_disconnects_the_provider(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(reply="word " * 400, chunk_delay_s=0.01)
    stream = llm.stream(tenant, endpoint, GENEROUS, QUESTION)
    first = await anext(stream)
    assert first
    await stream.aclose()
    # The fake notices when its next write finds the socket gone.
    async with asyncio.timeout(5):
        await fake.until(lambda f: f.disconnects == 1)
    assert fake.in_flight == 0


async def test_429_is_retried_after_the_providers_retry_after(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(fail_next=1, fail_statuses=(429,), retry_after_s=1, reply="ok")
    assert await llm.complete(tenant, endpoint, GENEROUS, QUESTION) == "ok"
    first, second = fake.requests_to(CHAT)
    # The fast policy alone would have waited at most 50 ms.
    assert second["time"] - first["time"] >= 1.0


async def test_5xx_are_retried_until_success(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(fail_next=3, fail_statuses=(500, 502, 503), reply="finally")
    assert await llm.complete(tenant, endpoint, GENEROUS, QUESTION) == "finally"
    assert len(fake.requests_to(CHAT)) == 4


async def test_retries_give_up_with_dependency_unavailable(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(fail_forever=True, fail_statuses=(503,))
    with pytest.raises(DependencyUnavailable, match="HTTP 503") as caught:
        await llm.complete(tenant, endpoint, GENEROUS, QUESTION)
    assert caught.value.status == 503
    assert len(fake.requests_to(CHAT)) == 1 + FAST_RETRIES.retries


async def test_a_permanent_400_is_not_retried(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(fail_next=1, fail_statuses=(400,))
    with pytest.raises(ProviderRejected, match="HTTP 400") as caught:
        await llm.complete(tenant, endpoint, GENEROUS, QUESTION)
    assert caught.value.details == {"provider_status": 400}
    assert len(fake.requests_to(CHAT)) == 1


async def test_connection_refused_is_retried_then_unavailable(
    llm: LlmClient, http: httpx.AsyncClient, tenant: str
) -> None:
    async with FakeProvider() as gone:
        dead = Endpoint(base_url=gone.base_url, model="m", api_key="")
    with pytest.raises(DependencyUnavailable, match="ConnectError"):
        await llm.complete(tenant, dead, GENEROUS, QUESTION)


async def test_the_tenants_timeout_bounds_the_call(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(latency_s=5)
    limits = dataclasses.replace(GENEROUS, timeout_s=0.3)
    with pytest.raises(DependencyUnavailable, match=r"within 0\.3 s|timed out"):
        await llm.complete(tenant, endpoint, limits, QUESTION)


async def test_concurrency_is_bounded_per_tenant(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(latency_s=0.1, reply="ok")
    limits = dataclasses.replace(GENEROUS, max_concurrency=3)
    answers = await asyncio.gather(
        *(llm.complete(tenant, endpoint, limits, QUESTION) for _ in range(10))
    )
    assert answers == ["ok"] * 10
    assert fake.max_in_flight == 3


async def test_other_tenants_are_not_held_by_one_tenants_bound(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    # Calls that never end by themselves: all four in flight at once proves no tenant waits
    # for another's slot; a shared bound would hold three of them back until the timeout.
    fake.configure(latency_s=600, reply="ok")
    limits = dataclasses.replace(GENEROUS, max_concurrency=1)
    tenants = [f"{tenant}-{n}" for n in range(4)]
    calls = asyncio.gather(*(llm.complete(t, endpoint, limits, QUESTION) for t in tenants))
    try:
        async with asyncio.timeout(60):
            await fake.until(lambda f: f.in_flight == 4)
    finally:
        calls.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await calls


async def test_metrics_are_registered_once_and_count_calls(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    endpoint: Endpoint,
    tenant: str,
) -> None:
    metrics = Metrics()
    first = LlmClient(http, limiter, policy=FAST_RETRIES, metrics=metrics)
    second = LlmClient(http, limiter, policy=FAST_RETRIES, metrics=metrics)
    fake.configure(fail_next=1, fail_statuses=(500,), reply="ok")
    await first.complete(tenant, endpoint, GENEROUS, QUESTION)
    await second.complete(tenant, endpoint, GENEROUS, QUESTION)
    text = metrics.render().decode()
    assert 'ragapi_model_calls_total{kind="llm",outcome="ok"} 2.0' in text
    assert 'ragapi_model_retries_total{kind="llm",reason="500"} 1.0' in text
    assert 'ragapi_model_tokens_total{direction="prompt",kind="llm"}' in text


async def test_content_parts_reach_a_vlm_verbatim(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    parts = [
        {"type": "text", "text": "Describe this chart."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    answer = await llm.complete(tenant, endpoint, GENEROUS, [{"role": "user", "content": parts}])
    assert IMAGE_MARKER in answer
    assert fake.requests_to(CHAT)[0]["json"]["messages"][0]["content"] == parts


async def test_a_stream_is_retried_before_its_first_byte(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(fail_next=2, fail_statuses=(503, 429), reply="after two failures")
    deltas = [d async for d in llm.stream(tenant, endpoint, GENEROUS, QUESTION)]
    assert "".join(deltas) == "after two failures"
    assert len(fake.requests_to(CHAT)) == 3


async def test_a_refused_stream_raises_on_the_first_read(
    llm: LlmClient, fake: FakeProvider, endpoint: Endpoint, tenant: str
) -> None:
    fake.configure(fail_forever=True, fail_statuses=(401,))
    stream = llm.stream(tenant, endpoint, GENEROUS, QUESTION)
    with pytest.raises(ProviderRejected, match="HTTP 401"):
        await anext(stream)
    assert len(fake.requests_to(CHAT)) == 1

"""Circuit breakers: their state machine, and failing fast against a provider that is down."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from ragapi_common.errors import CircuitOpen, DependencyUnavailable
from ragapi_common.metrics import Metrics
from ragapi_common.models import Breakers, CircuitBreaker, LlmClient, State
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint
from tests.models.conftest import FAST_RETRIES, GENEROUS
from tests.support.fake_provider import CHAT, FakeProvider

QUESTION = [{"role": "user", "content": "Anyone there?"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_failures_in_a_row() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=3, reset_after_s=30, clock=clock)
    for _ in range(2):
        breaker.record(False, probe=breaker.before_call())
    breaker.record(True, probe=breaker.before_call())  # a success resets the count
    for _ in range(2):
        breaker.record(False, probe=breaker.before_call())
    assert breaker.state is State.CLOSED
    breaker.record(False, probe=breaker.before_call())
    assert breaker.state is State.OPEN
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.status == 503
    assert caught.value.retry_after == pytest.approx(30)


def test_half_open_lets_one_probe_through_and_its_outcome_decides() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=1, reset_after_s=10, clock=clock)
    breaker.record(False, probe=breaker.before_call())
    clock.now += 10
    assert breaker.state is State.HALF_OPEN
    assert breaker.before_call() is True  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # everyone else waits for the probe
    breaker.record(False, probe=True)
    assert breaker.state is State.OPEN  # a failed probe reopens at once
    clock.now += 10
    assert breaker.before_call() is True
    breaker.record(True, probe=True)
    assert breaker.state is State.CLOSED
    assert breaker.before_call() is False


def test_a_neutral_outcome_frees_the_probe_without_deciding() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=1, reset_after_s=1, clock=clock)
    breaker.record(False, probe=breaker.before_call())
    clock.now += 1
    breaker.record(None, probe=breaker.before_call())  # e.g. the caller was cancelled
    assert breaker.before_call() is True


def test_states_per_endpoint_for_readyz() -> None:
    breakers = Breakers(failure_threshold=1)
    breakers.for_endpoint("http://a/v1").record(False, probe=False)
    breakers.for_endpoint("http://b/v1")
    assert breakers.states() == {"http://a/v1": "open", "http://b/v1": "closed"}


async def test_fails_fast_while_open_then_recovers_through_half_open(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    endpoint: Endpoint,
    tenant: str,
) -> None:
    metrics = Metrics()
    breakers = Breakers(failure_threshold=2, reset_after_s=0.5)
    llm = LlmClient(http, limiter, breakers=breakers, policy=FAST_RETRIES, metrics=metrics)
    fake.configure(fail_forever=True, fail_statuses=(500,))
    for _ in range(2):
        with pytest.raises(DependencyUnavailable, match="HTTP 500"):
            await llm.complete(tenant, endpoint, GENEROUS, QUESTION)
    assert breakers.states() == {fake.base_url: "open"}
    assert 'ragapi_model_breaker_state{endpoint="' + fake.base_url + '"} 2.0' in (
        metrics.render().decode()
    )

    sent = len(fake.requests)
    with pytest.raises(CircuitOpen):
        await llm.complete(tenant, endpoint, GENEROUS, QUESTION)
    assert len(fake.requests) == sent  # failed fast: the provider saw nothing
    assert 'ragapi_model_calls_total{kind="llm",outcome="circuit_open"} 1.0' in (
        metrics.render().decode()
    )

    fake.configure(fail_forever=False, reply="back")
    await asyncio.sleep(0.5)
    assert breakers.states() == {fake.base_url: "half_open"}
    assert await llm.complete(tenant, endpoint, GENEROUS, QUESTION) == "back"
    assert breakers.states() == {fake.base_url: "closed"}


async def test_a_flaky_provider_does_not_trip_the_breaker(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    endpoint: Endpoint,
    tenant: str,
) -> None:
    breakers = Breakers(failure_threshold=2)
    llm = LlmClient(http, limiter, breakers=breakers, policy=FAST_RETRIES)
    fake.configure(fail_rate=0.3, fail_statuses=(429, 500), reply="ok", seed=7)
    # One call after the other, so the seeded failures fall the same way on every run.
    answers = [await llm.complete(tenant, endpoint, GENEROUS, QUESTION) for _ in range(40)]
    assert answers == ["ok"] * 40
    assert len(fake.requests_to(CHAT)) > 40  # some attempts did fail and were retried
    assert breakers.states() == {fake.base_url: "closed"}


async def test_a_hanging_provider_counts_as_failing(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    endpoint: Endpoint,
    tenant: str,
) -> None:
    breakers = Breakers(failure_threshold=1)
    llm = LlmClient(http, limiter, breakers=breakers, policy=FAST_RETRIES)
    fake.configure(latency_s=5)
    with pytest.raises(DependencyUnavailable):
        await llm.complete(tenant, endpoint, dataclasses.replace(GENEROUS, timeout_s=0.3), QUESTION)
    assert breakers.states() == {fake.base_url: "open"}


async def test_a_cancelled_call_does_not_count(
    http: httpx.AsyncClient,
    limiter: RateLimiter,
    fake: FakeProvider,
    endpoint: Endpoint,
    tenant: str,
) -> None:
    breakers = Breakers(failure_threshold=1)
    llm = LlmClient(http, limiter, breakers=breakers, policy=FAST_RETRIES)
    fake.configure(latency_s=5)
    call = asyncio.create_task(llm.complete(tenant, endpoint, GENEROUS, QUESTION))
    async with asyncio.timeout(5):
        await fake.until(lambda f: len(f.requests) == 1)
    call.cancel()  # e.g. the client of a query went away
    with pytest.raises(asyncio.CancelledError):
        await call
    assert breakers.states() == {fake.base_url: "closed"}

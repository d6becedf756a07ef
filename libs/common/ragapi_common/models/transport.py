"""One provider request, sent with retries, backoff, ``Retry-After`` and the breaker.

Every model client (LLM, embeddings, rerank) sends through a
:class:`ProviderCaller`, so the retry policy lives here only:

- 429, 500, 502, 503, 504, refused or broken connections and timeouts are
  retried up to ``RetryPolicy.retries`` times, waiting the provider's
  ``Retry-After`` (or ``retry-after-ms``) when given, else an exponential
  backoff with jitter; a wait that would pass the call's deadline is not
  started: the call fails at once.
- any other 4xx is the provider refusing the request: no retry,
  :class:`~ragapi_common.errors.ProviderRejected`.
- a call that used up its retries raises
  :class:`~ragapi_common.errors.DependencyUnavailable` and counts as one failure
  for the endpoint's breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from ragapi_common.errors import CircuitOpen, DependencyUnavailable, ProviderRejected
from ragapi_common.models.breaker import Breakers, CircuitBreaker
from ragapi_common.models.metrics import ModelMetrics
from ragapi_common.tenancy import Endpoint

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_JITTER = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts of one call."""

    retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0
    #: A longer ``Retry-After`` is honoured only up to this (and the deadline).
    max_retry_after_s: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**retry)
        # Jitter spreads the retries of many callers hit by the same outage.
        return float(ceiling * _JITTER.uniform(0.5, 1.0))


def retry_after_s(headers: httpx.Headers) -> float | None:
    """The wait a provider asks for: ``retry-after-ms``, ``Retry-After`` seconds or date."""
    millis = headers.get("retry-after-ms")
    with contextlib.suppress(ValueError):
        if millis is not None:
            return float(millis) / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    return None


@contextlib.asynccontextmanager
async def deadline_within(timeout_s: float, what: str) -> AsyncIterator[float]:
    """Bound the block to ``timeout_s``; yields the deadline on the loop's clock."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        async with asyncio.timeout_at(deadline):
            yield deadline
    except TimeoutError as exc:
        raise DependencyUnavailable(
            f"{what} gave no answer within {timeout_s:g} s", retry_after=min(timeout_s, 30.0)
        ) from exc


@dataclass
class _Outcome:
    """How a call ended: ``ok`` for the breaker (None: says nothing), ``name`` for metrics."""

    ok: bool | None = None
    name: str = "aborted"


@dataclass
class _Failure:
    reason: str
    message: str
    retry_after: float | None = None


class ProviderCaller:
    """POSTs JSON to one kind of provider endpoint (``kind`` names it in errors and metrics)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        kind: str,
        breakers: Breakers,
        policy: RetryPolicy,
        metrics: ModelMetrics | None,
    ) -> None:
        self.http = http
        self.kind = kind
        self.breakers = breakers
        self.policy = policy
        self.metrics = metrics

    async def send(
        self,
        endpoint: Endpoint,
        path: str,
        body: dict[str, Any],
        *,
        deadline: float,
        stream: bool = False,
        read_timeout_s: float | None = None,
    ) -> httpx.Response:
        """A 2xx response (unread when ``stream``), or the error the policy ends in."""
        if not endpoint.configured:
            raise ProviderRejected(f"no {self.kind} endpoint is configured")
        breaker = self.breakers.for_endpoint(endpoint.base_url)
        try:
            probe = breaker.before_call()
        except CircuitOpen:
            self._count("circuit_open")
            raise
        with self._settling(breaker, probe, deadline) as outcome:
            result = await self._attempts(
                endpoint, path, body, deadline, stream, read_timeout_s, breaker.raise_if_open
            )
            if isinstance(result, httpx.Response):
                outcome.ok, outcome.name = True, "ok"
                return result
            # Being rate limited says nothing about the endpoint's health.
            outcome.ok, outcome.name = (None if result.reason == "429" else False), "failed"
            raise DependencyUnavailable(
                f"the {self.kind} provider at {endpoint.base_url} failed: {result.message}",
                retry_after=result.retry_after or self.policy.max_delay_s,
            )

    @contextlib.contextmanager
    def _settling(
        self, breaker: CircuitBreaker, probe: bool, deadline: float
    ) -> Iterator[_Outcome]:
        """Tell the breaker and the metrics how the call in the block ended."""
        outcome = _Outcome()
        started = time.perf_counter()
        try:
            yield outcome
        except ProviderRejected:
            # The endpoint answered, so it is up; the request itself was wrong.
            outcome.ok, outcome.name = True, "rejected"
            raise
        except CircuitOpen:
            outcome.name = "circuit_open"
            raise
        finally:
            if outcome.name == "aborted" and asyncio.get_running_loop().time() >= deadline:
                # Cancelled by the call's own deadline: the provider hung, a failure.
                outcome.ok, outcome.name = False, "timeout"
            breaker.record(outcome.ok, probe=probe)
            self._count(outcome.name, time.perf_counter() - started)

    def _count(self, outcome: str, seconds: float | None = None) -> None:
        if self.metrics is None:
            return
        self.metrics.calls.labels(self.kind, outcome).inc()
        if seconds is not None:
            self.metrics.latency.labels(self.kind).observe(seconds)

    async def _attempts(
        self,
        endpoint: Endpoint,
        path: str,
        body: dict[str, Any],
        deadline: float,
        stream: bool,
        read_timeout_s: float | None,
        raise_if_open: Callable[[], None],
    ) -> httpx.Response | _Failure:
        """The first 2xx response, or the last failure once retries or time ran out."""
        loop = asyncio.get_running_loop()
        failure = _Failure("none", "no attempt made")
        for retry in range(self.policy.retries + 1):
            if retry:
                raise_if_open()
            timeout = read_timeout_s if stream else max(0.001, deadline - loop.time())
            request = self.http.build_request(
                "POST",
                endpoint.base_url + path,
                json=body,
                headers=_auth(endpoint),
                timeout=httpx.Timeout(timeout),
            )
            result = await self._attempt(request, stream)
            if isinstance(result, httpx.Response):
                return result
            failure = result
            delay = self.policy.delay(retry, failure.retry_after)
            if retry == self.policy.retries or loop.time() + delay > deadline:
                break
            if self.metrics is not None:
                self.metrics.retries.labels(self.kind, failure.reason).inc()
            await asyncio.sleep(delay)
        return failure

    async def _attempt(self, request: httpx.Request, stream: bool) -> httpx.Response | _Failure:
        """One attempt: the 2xx response, a retryable failure, or ProviderRejected."""
        try:
            response = await self.http.send(request, stream=stream)
            if not response.is_success:
                await response.aread()
                await response.aclose()
        except httpx.TimeoutException as exc:
            return _Failure("timeout", f"timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            return _Failure("connection", f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if response.is_success:
            return response
        if status in RETRYABLE_STATUSES:
            return _Failure(str(status), f"HTTP {status}", retry_after_s(response.headers))
        raise ProviderRejected(
            f"the {self.kind} provider refused the request: HTTP {status}: {response.text[:300]}",
            details={"provider_status": status},
        )


def _auth(endpoint: Endpoint) -> dict[str, str]:
    return {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}

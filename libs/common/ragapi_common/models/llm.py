"""The OpenAI-compatible chat client every LLM call of a process goes through.

One :class:`LlmClient` per process, around the caller's pooled
``httpx.AsyncClient``. Each call is admitted by the tenant's limits
(:mod:`ragapi_common.models.gate`), sent with the shared retry policy and
breaker (:mod:`ragapi_common.models.transport`) and bounded by the tenant's
``timeout_s``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ragapi_common.errors import DependencyUnavailable, ProviderRejected
from ragapi_common.metrics import Metrics
from ragapi_common.models.breaker import Breakers
from ragapi_common.models.gate import TenantGate, estimate_tokens
from ragapi_common.models.metrics import ModelMetrics, model_metrics
from ragapi_common.models.transport import ProviderCaller, RetryPolicy, deadline_within
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint, LlmLimits

#: OpenAI chat messages; ``content`` is a string or a list of content parts (VLM images).
Messages = list[dict[str, Any]]
#: What an image part is charged against tokens/min (about a high-detail OpenAI image).
IMAGE_TOKENS = 1_000


class Completion(str):
    """The answer's text, which also says why the model stopped (``"length"``: cut off)."""

    __slots__ = ("finish_reason",)
    finish_reason: str | None

    def __new__(cls, text: str, finish_reason: str | None = None) -> Completion:
        completion = super().__new__(cls, text)
        completion.finish_reason = finish_reason
        return completion

    @property
    def truncated(self) -> bool:
        """True when the output token limit cut the answer off."""
        return self.finish_reason == "length"


class LlmClient:
    """Chat completions, whole or streamed, under per-tenant limits."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        limiter: RateLimiter,
        *,
        breakers: Breakers | None = None,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.breakers = breakers or Breakers()
        self._metrics = model_metrics(metrics)
        if self._metrics is not None:
            self._metrics.watch(self.breakers)
        self._caller = ProviderCaller(
            http,
            kind="llm",
            breakers=self.breakers,
            policy=policy or RetryPolicy(),
            metrics=self._metrics,
        )
        self._gate = TenantGate(limiter, "llm")

    async def complete(
        self,
        tenant_id: str,
        endpoint: Endpoint,
        limits: LlmLimits,
        messages: Messages,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Completion:
        """The assistant's answer to ``messages`` (a ``str``; see :class:`Completion`)."""
        body = _chat_body(endpoint, messages, max_tokens, temperature, extra_body, stream=False)
        prompt_tokens = _prompt_tokens(messages)
        async with (
            deadline_within(limits.timeout_s, f"the LLM at {endpoint.base_url}") as deadline,
            self._admit(tenant_id, limits, prompt_tokens + (max_tokens or 0), deadline),
        ):
            response = await self._caller.send(
                endpoint, "/chat/completions", body, deadline=deadline
            )
        text, usage = _completion(response)
        self._count(usage.get("prompt_tokens", prompt_tokens), usage.get("completion_tokens"), text)
        return text

    async def stream(
        self,
        tenant_id: str,
        endpoint: Endpoint,
        limits: LlmLimits,
        messages: Messages,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> AsyncIterator[str]:
        """Yield the answer's content deltas as they arrive.

        Retries happen only before the first byte. Closing the iterator
        (``aclose()``, or a cancelled consumer) closes the HTTP response at
        once, so the provider sees the disconnect and stops generating.
        """
        body = _chat_body(endpoint, messages, max_tokens, temperature, extra_body, stream=True)
        prompt_tokens = _prompt_tokens(messages)
        produced: list[str] = []
        async with contextlib.AsyncExitStack() as stack:
            async with deadline_within(
                limits.timeout_s, f"the LLM at {endpoint.base_url}"
            ) as deadline:
                tokens = prompt_tokens + (max_tokens or 0)
                await stack.enter_async_context(self._admit(tenant_id, limits, tokens, deadline))
                response = await self._caller.send(
                    endpoint,
                    "/chat/completions",
                    body,
                    deadline=deadline,
                    stream=True,
                    read_timeout_s=limits.timeout_s,
                )
            stack.push_async_callback(response.aclose)
            async for delta in _sse_deltas(response):
                produced.append(delta)
                yield delta
        self._count(prompt_tokens, None, "".join(produced))

    def _admit(
        self, tenant_id: str, limits: LlmLimits, tokens: int, deadline: float
    ) -> contextlib.AbstractAsyncContextManager[None]:
        return self._gate.admit(
            tenant_id,
            concurrency=limits.max_concurrency,
            deadline=deadline,
            requests_per_minute=limits.requests_per_minute,
            tokens_per_minute=limits.tokens_per_minute,
            tokens=tokens,
        )

    def _count(self, sent: int, received: int | None, text: str) -> None:
        metrics: ModelMetrics | None = self._metrics
        if metrics is not None:
            metrics.tokens.labels("llm", "prompt").inc(sent)
            metrics.tokens.labels("llm", "completion").inc(
                received if received is not None else estimate_tokens([text])
            )


def _prompt_tokens(messages: Messages) -> int:
    """Estimated tokens of ``messages``: their text, plus a flat cost per image part."""
    texts: list[str] = []
    images = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content or ():
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text") or ""))
            else:
                images += 1
    return estimate_tokens(texts) + images * IMAGE_TOKENS


def _chat_body(
    endpoint: Endpoint,
    messages: Messages,
    max_tokens: int | None,
    temperature: float | None,
    extra_body: dict[str, Any] | None,
    *,
    stream: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {**(extra_body or {}), "model": endpoint.model, "messages": messages}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    return body


def _completion(response: httpx.Response) -> tuple[Completion, dict[str, int]]:
    """The first choice and the usage block of a chat completion."""
    try:
        data = response.json()
        choice = data["choices"][0]
        content = choice["message"].get("content") or ""
        usage = data.get("usage") or {}
        usage = {k: int(v) for k, v in usage.items() if isinstance(v, int)}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ProviderRejected(f"the LLM answered an unreadable completion: {exc!r}") from exc
    return Completion(str(content), choice.get("finish_reason")), usage


async def _sse_deltas(response: httpx.Response) -> AsyncIterator[str]:
    """Content deltas of an OpenAI SSE stream, up to ``data: [DONE]``."""
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            delta = _chunk_delta(data)
            if delta:
                yield delta
    except httpx.HTTPError as exc:
        raise DependencyUnavailable(f"the LLM stream broke: {type(exc).__name__}") from exc


def _chunk_delta(data: str) -> str:
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise ProviderRejected(f"the LLM streamed an unreadable chunk: {data[:200]}") from exc
    if not isinstance(chunk, dict):
        return ""
    if "error" in chunk:
        raise DependencyUnavailable(f"the LLM stream ended with an error: {chunk['error']}")
    choices = chunk.get("choices") or [{}]
    delta = (choices[0] or {}).get("delta") or {}
    return str(delta.get("content") or "")

"""Embedders: the protocol every index uses, and the OpenAI-compatible remote one.

An index records its embedder's ``id`` and ``dim`` and refuses vectors from
another; the bundled offline model lives in
:mod:`ragapi_common.models.local_embedder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import httpx
import numpy as np
import numpy.typing as npt

from ragapi_common.errors import ProviderRejected
from ragapi_common.metrics import Metrics
from ragapi_common.models.breaker import Breakers
from ragapi_common.models.gate import TenantGate, estimate_tokens
from ragapi_common.models.metrics import model_metrics
from ragapi_common.models.transport import ProviderCaller, RetryPolicy, deadline_within
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint, LlmLimits

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Texts in, one float32 row of ``dim`` values per text out.

    ``query``: the few texts of a question, waiting on no document's batches
    where the embedder serializes them.
    """

    id: str
    dim: int

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors: ...


class RemoteEmbedder:
    """``POST {base_url}/embeddings`` in batches, under one tenant's limits.

    One instance per tenant (it carries the tenant's endpoint and limits);
    they share the process's ``httpx`` client, limiter and breakers.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: Endpoint,
        dim: int,
        limiter: RateLimiter | None,
        *,
        tenant_id: str,
        limits: LlmLimits,
        breakers: Breakers | None = None,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        batch_size: int = 64,
    ) -> None:
        self.id = f"openai:{endpoint.model}"
        self.dim = dim
        self.endpoint = endpoint
        self.tenant_id = tenant_id
        self.limits = limits
        self.batch_size = batch_size
        self.breakers = breakers or Breakers()
        self._metrics = model_metrics(metrics)
        if self._metrics is not None:
            self._metrics.watch(self.breakers)
        self._caller = ProviderCaller(
            http,
            kind="embedding",
            breakers=self.breakers,
            policy=policy or RetryPolicy(),
            metrics=self._metrics,
        )
        self._gate = TenantGate(limiter, "embedding")

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        # ``query`` changes nothing here: calls run side by side, up to the tenant's bound.
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [
            await self._embed_batch(list(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(batches, axis=0)

    async def _embed_batch(self, batch: list[str]) -> Vectors:
        body = {"model": self.endpoint.model, "input": batch, "encoding_format": "float"}
        tokens = estimate_tokens(batch)
        async with (
            deadline_within(
                self.limits.timeout_s, f"the embedder at {self.endpoint.base_url}"
            ) as deadline,
            self._gate.admit(
                self.tenant_id,
                concurrency=self.limits.max_concurrency,
                deadline=deadline,
                requests_per_minute=self.limits.requests_per_minute,
                tokens_per_minute=self.limits.tokens_per_minute,
                tokens=tokens,
            ),
        ):
            response = await self._caller.send(
                self.endpoint, "/embeddings", body, deadline=deadline
            )
        if self._metrics is not None:
            self._metrics.tokens.labels("embedding", "prompt").inc(tokens)
        return self._vectors(response, len(batch))

    def _vectors(self, response: httpx.Response, expected: int) -> Vectors:
        try:
            rows = sorted(response.json()["data"], key=lambda row: row.get("index", 0))
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderRejected(f"the embedder answered unreadable vectors: {exc!r}") from exc
        if vectors.shape != (expected, self.dim):
            raise ProviderRejected(
                f"the embedder answered shape {vectors.shape}, expected ({expected}, {self.dim})"
            )
        return vectors

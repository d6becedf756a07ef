"""Reranking against a Jina/Cohere-style ``POST {base_url}/rerank`` endpoint.

Request ``{"model", "query", "documents", "top_n"}``, answer
``{"results": [{"index", "relevance_score"}]}``. Same retry policy and
breakers as every model call; its own per-tenant budget (``<tenant>:rerank:*``).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from ragapi_common.errors import ProviderRejected
from ragapi_common.metrics import Metrics
from ragapi_common.models.breaker import Breakers
from ragapi_common.models.gate import TenantGate
from ragapi_common.models.metrics import model_metrics
from ragapi_common.models.transport import ProviderCaller, RetryPolicy, deadline_within
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint


class Reranker:
    """One per process; limits are per tenant (defaults apply to every tenant)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        limiter: RateLimiter | None,
        *,
        breakers: Breakers | None = None,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        requests_per_minute: int = 600,
        max_concurrency: int = 8,
        timeout_s: float = 30.0,
    ) -> None:
        self.breakers = breakers or Breakers()
        self.requests_per_minute = requests_per_minute
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self._metrics = model_metrics(metrics)
        if self._metrics is not None:
            self._metrics.watch(self.breakers)
        self._caller = ProviderCaller(
            http,
            kind="rerank",
            breakers=self.breakers,
            policy=policy or RetryPolicy(),
            metrics=self._metrics,
        )
        self._gate = TenantGate(limiter, "rerank")

    async def rerank(
        self,
        tenant_id: str,
        endpoint: Endpoint,
        query: str,
        documents: Sequence[str],
        top_n: int,
    ) -> list[tuple[int, float]]:
        """``(index into documents, relevance)`` pairs, most relevant first."""
        if not documents or top_n <= 0:
            return []
        body = {
            "model": endpoint.model,
            "query": query,
            "documents": list(documents),
            "top_n": min(top_n, len(documents)),
        }
        async with (
            deadline_within(self.timeout_s, f"the reranker at {endpoint.base_url}") as deadline,
            self._gate.admit(
                tenant_id,
                concurrency=self.max_concurrency,
                deadline=deadline,
                requests_per_minute=self.requests_per_minute,
            ),
        ):
            response = await self._caller.send(endpoint, "/rerank", body, deadline=deadline)
        return _ranking(response, len(documents))[:top_n]


def _ranking(response: httpx.Response, count: int) -> list[tuple[int, float]]:
    try:
        results = response.json()["results"]
        pairs = [(int(row["index"]), float(row["relevance_score"])) for row in results]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderRejected(f"the reranker answered an unreadable ranking: {exc!r}") from exc
    if any(not 0 <= index < count for index, _ in pairs):
        raise ProviderRejected("the reranker answered an index outside the documents")
    return sorted(pairs, key=lambda pair: pair[1], reverse=True)

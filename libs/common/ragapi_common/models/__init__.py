"""Async clients of the model providers: LLM, embeddings, rerank (httpx, one pool per process).

- :mod:`.llm` — :class:`LlmClient`, chat completions whole or streamed;
- :mod:`.embedding` — the :class:`Embedder` protocol and :class:`RemoteEmbedder`;
- :mod:`.local_embedder` — :class:`LocalEmbedder`, the bundled offline model;
- :mod:`.rerank` — :class:`Reranker`;
- :mod:`.transport` — the one retry policy; :mod:`.breaker` — circuit breakers;
  :mod:`.gate` — per-tenant concurrency and Redis budgets.

``LocalEmbedder`` is imported from its module so that importing this package
never loads NumPy-heavy code a service does not use.
"""

from ragapi_common.models.breaker import Breakers, CircuitBreaker, State
from ragapi_common.models.embedding import Embedder, RemoteEmbedder
from ragapi_common.models.llm import Completion, LlmClient
from ragapi_common.models.rerank import Reranker
from ragapi_common.models.transport import RetryPolicy

__all__ = [
    "Breakers",
    "CircuitBreaker",
    "Completion",
    "Embedder",
    "LlmClient",
    "RemoteEmbedder",
    "Reranker",
    "RetryPolicy",
    "State",
]

"""The model callables a tenant's LightRAG instance is built with.

Each is a closure over the process's shared client and the tenant's effective
settings: LightRAG calls them, the clients do the HTTP, rate limiting, retries
and breaking. No function here opens a connection of its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ragapi_common.errors import RagapiError
from ragapi_common.models import Embedder, LlmClient, Reranker
from ragapi_common.tenancy import Effective

from ._lightrag import EmbeddingFunc
from .runs import guarded

LlmFunction = Callable[..., Awaitable[str | AsyncIterator[str]]]
Vectors = npt.NDArray[np.float32]


def _messages(
    prompt: str, system_prompt: str | None, history: Sequence[dict[str, str]] | None
) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": m["role"], "content": m["content"]} for m in history or ()]
    messages.append({"role": "user", "content": prompt})
    return messages


def llm_function(client: LlmClient, tenant_id: str, effective: Effective) -> LlmFunction:
    """LightRAG's ``llm_model_func`` over the shared client, for one tenant."""

    async def complete(
        prompt: str,
        system_prompt: str | None = None,
        history_messages: Sequence[dict[str, str]] | None = None,
        stream: bool = False,
        response_format: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        **_ignored: Any,
    ) -> str | AsyncIterator[str]:
        messages = _messages(prompt, system_prompt, history_messages)
        extra = {"response_format": response_format} if response_format else None
        args = (tenant_id, effective.llm, effective.llm_limits, messages)
        if stream:
            return client.stream(*args, max_tokens=max_tokens, extra_body=extra)
        # Interrupted at once when made for a pipeline run being cancelled (see .runs).
        return await guarded(client.complete(*args, max_tokens=max_tokens, extra_body=extra))

    return complete


def no_llm_function() -> LlmFunction:
    """Stands in where LightRAG insists on an LLM; the adapter never routes a call here."""

    async def refuse(*_args: Any, **_kwargs: Any) -> str:
        raise RagapiError("no LLM is configured for this tenant")

    return refuse


class QueryEmbeddingCache:
    """A small LRU of query vectors: a repeated question costs no embedding call."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()

    def get(self, text: str) -> Vectors | None:
        vector = self._vectors.get(text)
        if vector is not None:
            self._vectors.move_to_end(text)
        return vector

    def put(self, text: str, vector: Vectors) -> None:
        self._vectors[text] = vector
        self._vectors.move_to_end(text)
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)


def embedding_function(embedder: Embedder, cache: QueryEmbeddingCache) -> EmbeddingFunc:
    """LightRAG's ``embedding_func``; documents come in LightRAG's batches."""

    async def embed(texts: Sequence[str], context: str = "document", **_: Any) -> Vectors:
        if context != "query":
            return await embedder.embed(list(texts))
        vectors = {text: v for text in texts if (v := cache.get(text)) is not None}
        missing = [text for text in dict.fromkeys(texts) if text not in vectors]
        if missing:
            embedded = await embedder.embed(missing, query=True)
            for text, vector in zip(missing, embedded, strict=True):
                cache.put(text, vector)
                vectors[text] = vector
        return np.stack([vectors[text] for text in texts])

    return EmbeddingFunc(
        embedding_dim=embedder.dim,
        func=embed,
        model_name=embedder.id,
        supports_asymmetric=True,
    )


def queries_skip_the_queue(storage: Any, direct: EmbeddingFunc) -> None:
    """``storage``'s embedding calls go through LightRAG's queue, except a query's.

    LightRAG runs every embedding call of an instance through one priority queue
    with a few workers: a query's call goes first among the waiting ones, but it
    waits for a worker, that is for a document batch to end (seconds with the
    bundled embedder), and while a large document's vectors are computed every
    worker is busy with one. A query's call (``context="query"``) goes straight to
    ``direct``, the function LightRAG wrapped; queries' LLM calls skip LightRAG's
    queues the same way (:meth:`~.tenant.LightRagTenant.query_config`).
    """
    queued: EmbeddingFunc = storage.embedding_func
    queue_only = ("_priority", "_timeout", "_queue_timeout")

    async def embed(*args: Any, **kwargs: Any) -> Vectors:
        if kwargs.get("context") == "query":
            for name in queue_only:
                kwargs.pop(name, None)
            vectors: Vectors = await direct.func(*args, **kwargs)
            return vectors
        queued_vectors: Vectors = await queued.func(*args, **kwargs)
        return queued_vectors

    storage.embedding_func = replace(queued, func=embed)


def rerank_function(reranker: Reranker, tenant_id: str, effective: Effective) -> Callable[..., Any]:
    """LightRAG's ``rerank_model_func`` in its index/relevance_score format."""

    async def rerank(
        query: str, documents: Sequence[str], top_n: int | None = None, **_: Any
    ) -> list[dict[str, Any]]:
        ranked = await reranker.rerank(
            tenant_id, effective.rerank, query, documents, top_n or len(documents)
        )
        return [{"index": index, "relevance_score": score} for index, score in ranked]

    return rerank

"""What the services see of a tenant's knowledge base (no lightrag types leak out).

``ragapi up`` shares one :class:`RagRegistry` between ingest and query (the
``local`` storage profile only works in one process); split deployments use the
``postgres`` profile and each process has its own registry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ragapi_common.contracts.payloads import TenantContext

QueryMode = Literal["naive", "local", "global", "hybrid", "mix"]


@dataclass(frozen=True)
class IndexReport:
    """What one insert produced; ``llm`` is False when no LLM extracted a graph.

    ``warnings``: what was left out without failing the document (a content
    list's multimodal analysis that the model answered unusably).
    """

    chunks: int
    entities: int
    relations: int
    llm: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    doc_id: str
    name: str
    excerpt: str


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant", "system"]
    content: str


@dataclass(frozen=True)
class Question:
    query: str
    mode: QueryMode = "mix"
    top_k: int = 40
    history: Sequence[Turn] = ()


@dataclass(frozen=True)
class Retrieval:
    """The assembled context and the documents it came from."""

    context: str
    references: list[Reference]


@dataclass(frozen=True)
class Answer:
    text: str
    references: list[Reference]
    llm: bool


@dataclass(frozen=True)
class StreamedAnswer:
    """References are known before the first token; ``deltas`` yields the text."""

    references: list[Reference]
    deltas: AsyncIterator[str]
    llm: bool


@dataclass(frozen=True)
class Graph:
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)


class TenantRag(Protocol):
    """One tenant's LightRAG instance behind ragapi's own types."""

    tenant_id: str

    async def insert_text(self, doc_id: str, name: str, text: str) -> IndexReport:
        """Index plain text under ``doc_id``; idempotent for the same doc_id."""
        ...

    async def insert_content(
        self, doc_id: str, name: str, items: list[dict[str, Any]], assets: dict[str, bytes]
    ) -> IndexReport:
        """Index a RAG-Anything content list (``assets``: image bytes by ``img_path``)."""
        ...

    async def delete(self, doc_id: str) -> None:
        """Remove a document's chunks, vectors and graph contributions; no-op if absent."""
        ...

    async def retrieve(self, question: Question) -> Retrieval: ...

    async def answer(self, question: Question) -> Answer: ...

    async def answer_stream(self, question: Question) -> StreamedAnswer: ...

    async def graph(self, label: str | None, max_depth: int, max_nodes: int) -> Graph: ...


class RagRegistry(Protocol):
    """Per-process LRU of tenant instances."""

    async def get(self, tenant: TenantContext) -> TenantRag:
        """The tenant's instance, created on first use; config changes rebuild it."""
        ...

    async def evict(self, tenant_id: str) -> None:
        """Finalize and forget the instance (its data stays)."""
        ...

    async def drop(self, tenant_id: str) -> None:
        """Delete every vector, chunk and graph node of the tenant."""
        ...

    async def close(self) -> None: ...

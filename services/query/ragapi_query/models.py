"""Request and answer bodies of ``/v1/query`` and ``/v1/graph`` (also the OpenAPI schemas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragapi_common.rag.api import QueryMode, Reference


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryTurn(_Body):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=100_000)


class QueryRequest(_Body):
    """``POST /v1/query``; unset ``mode`` / ``top_k`` come from the tenant's config."""

    query: str = Field(min_length=1, max_length=20_000)
    mode: QueryMode | None = None
    top_k: int | None = Field(default=None, ge=1, le=500)
    stream: bool = False
    only_context: bool = False
    include_references: bool = True
    conversation_history: list[HistoryTurn] = Field(default_factory=list, max_length=200)


class ReferenceOut(BaseModel):
    doc_id: str
    name: str
    excerpt: str

    @classmethod
    def of(cls, reference: Reference) -> ReferenceOut:
        return cls(doc_id=reference.doc_id, name=reference.name, excerpt=reference.excerpt)


class QueryResponse(BaseModel):
    """``llm`` is false when the answer is extractive (no LLM configured, or only_context)."""

    answer: str
    mode: QueryMode
    references: list[ReferenceOut]
    llm: bool


class StreamEvents(BaseModel):
    """The SSE stream of ``"stream": true``: ``references``, ``delta``*, then ``done`` or
    ``error`` (the contract's error body)."""

    references: list[ReferenceOut]
    delta: dict[str, str] = Field(description='{"text": "..."}')
    done: dict[str, Any] = Field(description='{"mode": "...", "llm": true}')


class GraphParams(_Body):
    label: str | None = Field(default=None, max_length=500)
    max_depth: int = Field(default=2, ge=1, le=6)
    max_nodes: int = Field(default=200, ge=1, le=5_000)


class GraphResponse(BaseModel):
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]

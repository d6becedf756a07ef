"""Questions through LightRAG's query functions, answers in ragapi's types.

LightRAG's ``aquery_llm`` turns every exception into a "failure" dict, which
would make an open LLM breaker look like "no answer"; the adapter calls the
same ``kg_query`` / ``naive_query`` functions it does, so errors surface as
the ``RagapiError`` the model client raised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from . import readers
from ._lightrag import QueryParam, kg_query, naive_query
from .api import Answer, Question, Reference, Retrieval, StreamedAnswer
from .sources import split_source

if TYPE_CHECKING:
    from .tenant import LightRagTenant

EXCERPT_CHARS = 300
MAX_CHUNKS = 20
#: Passages an extractive (no LLM) answer quotes.
EXTRACTIVE_PASSAGES = 3
NO_CONTEXT = "No indexed passage matches this question."


def _param(tenant: LightRagTenant, question: Question, **flags: Any) -> QueryParam:
    caps = tenant.capabilities
    return QueryParam(
        # Without an LLM there are no keywords and no graph: vector search only.
        mode=question.mode if caps.llm else "naive",
        top_k=question.top_k,
        # LightRAG's default of 20 chunks unless fewer are asked for: more are cut by
        # the token budget anyway, after costing a tokenization each.
        chunk_top_k=min(question.top_k, MAX_CHUNKS),
        conversation_history=[{"role": t.role, "content": t.content} for t in question.history],
        enable_rerank=caps.rerank,
        include_references=True,
        **flags,
    )


async def _run(tenant: LightRagTenant, question: Question, param: QueryParam) -> Any:
    """LightRAG's query dispatch (as in ``aquery_data``), exceptions left alone."""
    rag = tenant.rag
    config = tenant.query_config()
    # Storage reads that do not wait for writers (see .readers); the flush task that
    # changed() may start is made after, outside the query's context.
    with readers.querying():
        if param.mode == "naive":
            result = await naive_query(
                question.query, rag.chunks_vdb, param, config,
                hashing_kv=tenant.query_cache, text_chunks_db=rag.text_chunks,
            )  # fmt: skip
        else:
            result = await kg_query(
                question.query, rag.chunk_entity_relation_graph, rag.entities_vdb,
                rag.relationships_vdb, rag.text_chunks, param, config,
                hashing_kv=tenant.query_cache, chunks_vdb=rag.chunks_vdb,
            )  # fmt: skip
    tenant.cache_flush.changed()
    return result


def _chunks(result: Any) -> list[dict[str, Any]]:
    data = (getattr(result, "raw_data", None) or {}).get("data") or {}
    return list(data.get("chunks") or [])


def references(chunks: list[dict[str, Any]]) -> list[Reference]:
    """One reference per document, in the order its first chunk was used."""
    seen: dict[str, Reference] = {}
    for chunk in chunks:
        doc_id, name = split_source(chunk.get("file_path", ""), chunk.get("chunk_id") or "")
        if doc_id and doc_id not in seen:
            # Whitespace-collapse a bounded head only: chunks run to thousands of characters.
            head = str(chunk.get("content", ""))[: EXCERPT_CHARS * 4]
            excerpt = " ".join(head.split())[:EXCERPT_CHARS]
            seen[doc_id] = Reference(doc_id=doc_id, name=name, excerpt=excerpt)
    return list(seen.values())


async def retrieve(tenant: LightRagTenant, question: Question) -> Retrieval:
    result = await _run(tenant, question, _param(tenant, question, only_need_context=True))
    if result is None:
        return Retrieval(context="", references=[])
    return Retrieval(context=result.content or "", references=references(_chunks(result)))


def _extractive(chunks: list[dict[str, Any]]) -> tuple[str, list[Reference]]:
    """The best passages, each followed by the number of its reference."""
    cited = references(chunks)
    numbers = {ref.doc_id: n for n, ref in enumerate(cited, start=1)}
    parts = []
    for chunk in chunks[:EXTRACTIVE_PASSAGES]:
        doc_id, _ = split_source(chunk.get("file_path", ""), chunk.get("chunk_id") or "")
        parts.append(f"{str(chunk.get('content', '')).strip()} [{numbers[doc_id]}]")
    used = {
        split_source(c.get("file_path", ""), c.get("chunk_id") or "")[0]
        for c in chunks[:EXTRACTIVE_PASSAGES]
    }
    return "\n\n".join(parts) or NO_CONTEXT, [ref for ref in cited if ref.doc_id in used]


async def answer(tenant: LightRagTenant, question: Question) -> Answer:
    if not tenant.capabilities.llm:
        found = await retrieve_chunks(tenant, question)
        text, refs = _extractive(found)
        return Answer(text=text, references=refs, llm=False)
    result = await _run(tenant, question, _param(tenant, question, stream=False))
    if result is None:
        return Answer(text=NO_CONTEXT, references=[], llm=True)
    return Answer(text=result.content or "", references=references(_chunks(result)), llm=True)


async def retrieve_chunks(tenant: LightRagTenant, question: Question) -> list[dict[str, Any]]:
    result = await _run(tenant, question, _param(tenant, question, only_need_context=True))
    return _chunks(result) if result is not None else []


async def answer_stream(tenant: LightRagTenant, question: Question) -> StreamedAnswer:
    if not tenant.capabilities.llm:
        done = await answer(tenant, question)
        return StreamedAnswer(references=done.references, deltas=_once(done.text), llm=False)
    result = await _run(tenant, question, _param(tenant, question, stream=True))
    if result is None:
        return StreamedAnswer(references=[], deltas=_once(NO_CONTEXT), llm=True)
    refs = references(_chunks(result))
    if result.response_iterator is None:  # a cached answer comes back whole
        return StreamedAnswer(references=refs, deltas=_once(result.content or ""), llm=True)
    return StreamedAnswer(references=refs, deltas=_closing(result.response_iterator), llm=True)


async def _once(text: str) -> AsyncIterator[str]:
    yield text


async def _closing(deltas: AsyncIterator[str]) -> AsyncIterator[str]:
    """Yields the LLM's deltas; closing this (consumer gone) closes the LLM stream."""
    try:
        async for delta in deltas:
            if delta:
                yield delta
    finally:
        aclose = getattr(deltas, "aclose", None)
        if aclose is not None:
            await aclose()

"""One tenant's LightRAG instance behind :class:`~ragapi_common.rag.api.TenantRag`."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from ragapi_common.errors import Conflict, RagapiError, ValidationFailed

from . import answer_cache, answers, content, embed_ahead, multimodal, readers, truncation, vectors
from ._lightrag import DocStatus, LightRAG
from .api import Answer, Graph, IndexReport, Question, Retrieval, StreamedAnswer
from .commits import GroupCommit
from .debounce import DebouncedFlush
from .locks import IndexLock, in_process
from .sources import source_of
from .writes import UNBOUNDED, GroupBounds, WriteGate

QUEUE_SHUTDOWN_S = 5.0
#: LightRAG's LLM roles a query uses (keywords, then the answer).
QUERY_ROLES = ("keyword", "query")
#: Rounds of "replace what an earlier attempt left, then insert" before giving up.
INSERT_ATTEMPTS = 3
#: How long the LLM cache may stay unwritten after a query added to it. Each flush rewrites
#: the tenant's whole cache file (its extraction answers too): at 5 s, 5 % of a mix query's
#: CPU on 200 documents went to it; a crash loses at most this much of cached answers.
CACHE_FLUSH_S = 30.0


@dataclass(frozen=True)
class Capabilities:
    """What the tenant's config lets this instance do."""

    llm: bool
    rerank: bool
    default_mode: str
    default_top_k: int
    #: A ``vlm`` endpoint analyses a content list's images.
    vlm: bool = False


class LightRagTenant:
    """Inserts share the instance, other writes hold it alone; counts readers for eviction."""

    def __init__(
        self,
        tenant_id: str,
        rag: LightRAG,
        capabilities: Capabilities,
        *,
        index_lock: IndexLock | None = None,
        commits: GroupCommit | None = None,
        groups: GroupBounds = UNBOUNDED,
    ) -> None:
        self.tenant_id = tenant_id
        self.rag = rag
        self.capabilities = capabilities
        self._query_config: dict[str, Any] | None = None
        self.last_used = time.monotonic()
        # One writer per tenant: the instance's gate in-process (text inserts share it
        # through one LightRAG pipeline run, see :mod:`.writes`), ``index_lock`` across
        # replicas (postgres profile). Eviction (close) takes only the first.
        self._writer = WriteGate(rag, commits.status_changes if commits else None, groups)
        self._index_lock = index_lock or in_process()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Queries write the LLM cache through this queue, never waiting for indexing's
        # commits of it; the debounced flush hands their entries over.
        self.query_cache = answer_cache.QueryCache(rag.llm_response_cache)
        self.cache_flush = DebouncedFlush(
            answer_cache.flush_with_trim(self.query_cache), CACHE_FLUSH_S
        )
        # The local profile's JSON storages: one flush per batch of documents (decision 0303).
        self.commits = commits
        if commits is not None:
            commits.attach(rag, _storages(rag))
            commits.writers = lambda: self._writer.inserting
        vectors.install(rag.chunks_vdb)
        truncation.install()  # process-wide, idempotent: LightRAG's budgets, counted lazily
        # Readers never wait for a writer (issue 9): vectors are embedded before a
        # commit takes its lock, and queries pass the storages' locks (decision 0503).
        for store in (rag.chunks_vdb, rag.entities_vdb, rag.relationships_vdb):
            embed_ahead.install(store)
        readers.install(rag)

    def query_config(self) -> dict[str, Any]:
        """LightRAG's ``global_config``, built once: building deep-copies every field.

        The queries only read it, and a config change builds a new instance.
        """
        if self._query_config is None:
            config = self.rag._build_global_config()
            # Queries call the model function directly: the tenant's gate already bounds
            # them, and LightRAG's per-role queue costs a task hop and a timer per call.
            states = self.rag._role_llm_states
            direct = {
                role: partial(states[role].raw_func, hashing_kv=self.rag.llm_response_cache)
                for role in QUERY_ROLES
            }
            config["role_llm_funcs"] = {**config["role_llm_funcs"], **direct}
            self._query_config = config
        return self._query_config

    @property
    def active(self) -> int:
        return self._active

    @asynccontextmanager
    async def _in_use(self) -> AsyncIterator[None]:
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            self.last_used = time.monotonic()
            if not self._active:
                self._idle.set()

    # --- writes --------------------------------------------------------------------------
    async def insert_text(self, doc_id: str, name: str, text: str) -> IndexReport:
        if not text.strip():
            raise ValidationFailed(f"document {doc_id} has no text to index")
        return await self._insert(doc_id, name, text, process_options="")

    async def insert_content(
        self, doc_id: str, name: str, items: list[dict[str, Any]], assets: dict[str, bytes]
    ) -> IndexReport:
        """Through LightRAG's parser and multimodal analysis (see :mod:`.multimodal`)."""
        doc = await asyncio.to_thread(content.to_markdown, items, assets)
        if not doc.text.strip():
            raise ValidationFailed(
                f"document {doc_id} has no content to index (no text found in it)"
            )
        options = multimodal.process_options(self.capabilities.llm, self.capabilities.vlm)
        async with self._in_use(), self._writer, self._index_lock():
            indexed, warnings = await multimodal.insert(self.rag, doc_id, name, doc, options)
            report = await self._report(indexed)
        return dataclasses.replace(report, warnings=tuple(warnings))

    async def _insert(self, doc_id: str, name: str, text: str, process_options: str) -> IndexReport:
        if not self.capabilities.llm:
            process_options += "!"  # chunk and embed only: no graph extraction
        async with self._in_use():
            for _ in range(INSERT_ATTEMPTS):
                async with self._writer.shared(self._index_lock):
                    outcome = await self._enqueue(doc_id, name, text, process_options)
                    if isinstance(outcome, IndexReport):
                        return outcome
                    if outcome:
                        await self._writer.settle(doc_id)
                        return await self._report(doc_id)
                # An earlier attempt left the document: LightRAG deletes only when idle.
                async with self._writer, self._index_lock():
                    if await self._already_indexed(doc_id, text) is None:
                        await self._delete_leftovers(doc_id)
        raise RagapiError(f"document {doc_id} kept reappearing while it was being replaced")

    async def _enqueue(
        self, doc_id: str, name: str, text: str, process_options: str
    ) -> IndexReport | bool:
        """The earlier attempt's report, True once enqueued, False if leftovers are in the way."""
        # One at a time: two deliveries of a document must not both find it absent.
        async with self._writer.admission:
            report = await self._already_indexed(doc_id, text)
            if report is not None:
                return report
            if await self.rag.doc_status.get_by_id(doc_id):
                return False
            await self.rag.apipeline_enqueue_documents(
                text, ids=[doc_id], file_paths=[source_of(doc_id, name)],
                process_options=process_options,
            )  # fmt: skip
            return True

    async def _already_indexed(self, doc_id: str, text: str) -> IndexReport | None:
        """The earlier attempt's report when it finished with this very text."""
        status = await self.rag.doc_status.get_by_id(doc_id)
        if not status or status.get("status") != DocStatus.PROCESSED:
            return None
        stored = await self.rag.full_docs.get_by_id(doc_id) or {}
        if stored.get("content") not in (None, text):
            return None
        return await self._report(doc_id)

    async def _delete_leftovers(self, doc_id: str) -> None:
        """Remove whatever a previous attempt left (failed, half-processed, other text)."""
        if await self.rag.doc_status.get_by_id(doc_id):
            await self._delete_document(doc_id)

    async def _report(self, doc_id: str) -> IndexReport:
        status = await self.rag.doc_status.get_by_id(doc_id) or {}
        if status.get("status") != DocStatus.PROCESSED:
            message = status.get("error_msg") or f"status {status.get('status')}"
            if "duplicate" in str(message).lower() or "duplicate" in str(status).lower():
                raise Conflict(f"document {doc_id} duplicates an indexed document: {message}")
            raise RagapiError(f"indexing document {doc_id} failed: {message}")
        if self.commits is not None:
            # Its status on disk before anyone is told it is processed (the job acked);
            # its data is there since its _insert_done.
            await self.commits.barrier(data=False)
        entities = await self.rag.full_entities.get_by_id(doc_id) or {}
        relations = await self.rag.full_relations.get_by_id(doc_id) or {}
        return IndexReport(
            chunks=int(status.get("chunks_count") or 0),
            entities=len(entities.get("entity_names") or ()),
            relations=len(relations.get("relation_pairs") or ()),
            llm=self.capabilities.llm,
        )

    async def delete(self, doc_id: str) -> None:
        async with self._in_use(), self._writer, self._index_lock():
            await self._delete_document(doc_id)

    async def _delete_document(self, doc_id: str) -> None:
        result = await self.rag.adelete_by_doc_id(doc_id, delete_llm_cache=True)
        if result.status not in ("success", "not_found"):
            raise RagapiError(f"deleting document {doc_id} failed: {result.message}")
        failures = await multimodal.delete(self.rag, doc_id)  # a content list's document
        if failures:
            raise RagapiError(f"deleting document {doc_id} failed: {'; '.join(failures)}")

    # --- reads ---------------------------------------------------------------------------
    async def retrieve(self, question: Question) -> Retrieval:
        async with self._in_use():
            return await answers.retrieve(self, question)

    async def answer(self, question: Question) -> Answer:
        async with self._in_use():
            return await answers.answer(self, question)

    async def answer_stream(self, question: Question) -> StreamedAnswer:
        async with self._in_use():
            streamed = await answers.answer_stream(self, question)
        return StreamedAnswer(
            references=streamed.references,
            deltas=self._held(streamed.deltas),
            llm=streamed.llm,
        )

    async def _held(self, deltas: AsyncIterator[str]) -> AsyncIterator[str]:
        """Keeps the instance in use (not evicted) while the consumer reads the stream."""
        async with self._in_use():
            try:
                async for delta in deltas:
                    yield delta
            finally:
                aclose = getattr(deltas, "aclose", None)
                if aclose is not None:
                    await aclose()

    async def graph(self, label: str | None, max_depth: int, max_nodes: int) -> Graph:
        async with self._in_use():
            with readers.querying():
                graph = await self.rag.get_knowledge_graph(label or "*", max_depth, max_nodes)
        return Graph(
            nodes=[node.model_dump() for node in graph.nodes],
            edges=[edge.model_dump() for edge in graph.edges],
        )

    # --- lifecycle -----------------------------------------------------------------------
    async def close(self) -> None:
        """Wait for in-flight work, flush and close the storages, stop the model queues."""
        async with self._writer:
            await self._idle.wait()
            await self.cache_flush.close()
            if self.commits is not None:
                await self.commits.close()
            await self.rag.finalize_storages()
            await _stop_queues(self.rag)

    async def drop(self) -> None:
        """Delete every stored record of the tenant (storages' own ``drop``)."""
        async with self._writer, self._index_lock():
            await self._idle.wait()
            await self.cache_flush.close(flush=False)
            if self.commits is not None:
                await self.commits.close(flush=False)
            for storage in _storages(self.rag):
                result = await storage.drop()
                if isinstance(result, dict) and result.get("status") == "error":
                    raise RagapiError(f"dropping {storage.namespace} failed: {result}")
            await self.rag.finalize_storages()
            await _stop_queues(self.rag)


async def _stop_queues(rag: LightRAG) -> None:
    """Stop the worker tasks of LightRAG's per-instance model queues.

    Each wrapped model function (one per LLM role, embedding, rerank) runs its
    own workers that ``finalize_storages`` leaves running: without this an
    evicted instance would keep hundreds of idle tasks polling forever.
    """
    wrapped = [state.wrapped for state in rag._role_llm_states.values()]
    wrapped += [getattr(rag.embedding_func, "func", None), rag.rerank_model_func]
    for function in wrapped:
        shutdown = getattr(function, "shutdown", None)
        if callable(shutdown):
            await shutdown(graceful=True, timeout=QUEUE_SHUTDOWN_S)


def _storages(rag: LightRAG) -> list[Any]:
    return [
        rag.full_docs, rag.text_chunks, rag.full_entities, rag.full_relations,
        rag.entity_chunks, rag.relation_chunks, rag.entities_vdb, rag.relationships_vdb,
        rag.chunks_vdb, rag.chunk_entity_relation_graph, rag.llm_response_cache,
        rag.doc_status,
    ]  # fmt: skip

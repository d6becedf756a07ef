"""One query, start to end: rate limit, admission, deadline, then the tenant's RAG instance.

Both ``/v1/query`` and ``/v1/chat/completions`` go through :class:`QueryRunner`,
so limits, deadlines and metrics hold the same for every way of asking.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Counter

from ragapi_common import tenancy
from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.errors import RagapiError
from ragapi_common.rag.api import (
    Answer,
    Graph,
    QueryMode,
    Question,
    RagRegistry,
    Reference,
    TenantRag,
    Turn,
)
from ragapi_common.ratelimit import RateLimiter

from .deadline import Deadline
from .limits import Admission, Ticket
from .settings import QuerySettings

T = TypeVar("T")


@dataclass(frozen=True)
class LiveAnswer:
    """A streaming answer: references now, text as it comes; ``deltas`` must be consumed
    or closed (it holds the query's admission slot until then)."""

    mode: QueryMode
    references: list[Reference]
    deltas: GuardedTexts
    llm: bool


class QueryRunner:
    """Runs questions for tenants within the service's limits."""

    def __init__(
        self,
        settings: QuerySettings,
        *,
        rag: RagRegistry,
        limiter: RateLimiter,
        admission: Admission,
        outcomes: Counter,
    ) -> None:
        self.settings = settings
        self.rag = rag
        self.limiter = limiter
        self.admission = admission
        self.outcomes = outcomes

    def question(
        self,
        tenant: TenantContext,
        query: str,
        *,
        mode: QueryMode | None,
        top_k: int | None,
        history: Sequence[Turn] = (),
    ) -> Question:
        """The question with the tenant's defaults filled in (then ``mix``)."""
        effective = tenancy.resolve(self.settings, tenant)
        return Question(
            query=query,
            mode=mode or effective.query_mode or "mix",
            top_k=top_k or effective.top_k,
            history=tuple(history),
        )

    async def admit(self, tenant: TenantContext) -> Ticket:
        """Take an in-flight slot, then spend one unit of the tenant's queries/min.

        The slot first: a full process refuses before any await, so refusals stay
        immediate however busy the loop is, and cost no Redis round trip.
        """
        ticket = self.admission.acquire(tenant.tenant_id)
        effective = tenancy.resolve(self.settings, tenant)
        try:
            await self.limiter.enforce(
                f"{tenant.tenant_id}:queries", per_minute=effective.queries_per_minute
            )
        except BaseException:
            ticket.release()
            raise
        return ticket

    async def answer(
        self, tenant: TenantContext, question: Question, *, only_context: bool = False
    ) -> Answer:
        """The whole answer, or 504 when the deadline passes first."""

        async def work(instance: TenantRag) -> Answer:
            if only_context:
                retrieval = await instance.retrieve(question)
                return Answer(retrieval.context, retrieval.references, llm=False)
            return await instance.answer(question)

        return await self._bounded(tenant, question.mode, work)

    async def graph(
        self, tenant: TenantContext, label: str | None, max_depth: int, max_nodes: int
    ) -> Graph:
        """The tenant's subgraph around ``label`` (the most connected nodes without one)."""

        async def work(instance: TenantRag) -> Graph:
            return await instance.graph(label, max_depth, max_nodes)

        return await self._bounded(tenant, "graph", work)

    async def _bounded(
        self, tenant: TenantContext, kind: str, work: Callable[[TenantRag], Awaitable[T]]
    ) -> T:
        """``work`` on the tenant's instance under the rate limit, admission and deadline."""
        deadline = Deadline(self.settings.request_deadline_s)
        ticket = await self.admit(tenant)
        try:
            async with deadline.guard():
                result = await work(await self.rag.get(tenant))
        except RagapiError as exc:
            self.outcomes.labels(kind, exc.code).inc()
            raise
        finally:
            ticket.release()
        self.outcomes.labels(kind, "ok").inc()
        return result

    async def stream(
        self, tenant: TenantContext, question: Question, *, only_context: bool = False
    ) -> LiveAnswer:
        """Retrieval done and references known; the text follows through ``deltas``."""
        deadline = Deadline(self.settings.request_deadline_s)
        slot = await self.admit(tenant)
        try:
            async with deadline.guard():
                instance = await self.rag.get(tenant)
                if only_context:
                    retrieval = await instance.retrieve(question)
                    refs, texts, llm = retrieval.references, _once(retrieval.context), False
                else:
                    streamed = await instance.answer_stream(question)
                    refs, llm = streamed.references, streamed.llm
                    # The first delta is awaited here, before any byte is sent, so a
                    # provider that fails outright gets a JSON error, not a 200 stream.
                    texts = await _primed(streamed.deltas)
        except BaseException as exc:
            slot.release()
            if isinstance(exc, RagapiError):
                self.outcomes.labels(question.mode, exc.code).inc()
            raise
        deltas = GuardedTexts(
            texts,
            deadline=deadline,
            slot=slot,
            on_close=lambda outcome: self.outcomes.labels(question.mode, outcome).inc(),
        )
        return LiveAnswer(question.mode, refs, deltas, llm)


class GuardedTexts:
    """The answer's text under the deadline (checked per step, never across a ``yield``).

    :meth:`aclose` releases the admission slot and closes the source even if
    iteration never started, so a client gone before the first byte leaks nothing.
    """

    def __init__(
        self,
        texts: AsyncIterator[str],
        *,
        deadline: Deadline,
        slot: Ticket,
        on_close: Callable[[str], None],
    ) -> None:
        self._texts = texts
        self._deadline = deadline
        self._slot = slot
        self._on_close = on_close
        self._outcome = "cancelled"
        self._closed = False

    def __aiter__(self) -> GuardedTexts:
        return self

    async def __anext__(self) -> str:
        try:
            async with self._deadline.guard():
                return await anext(self._texts)
        except StopAsyncIteration:
            self._outcome = "ok"
            await self.aclose()
            raise
        except RagapiError as exc:
            self._outcome = exc.code
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._slot.release()
        self._on_close(self._outcome)
        await _close(self._texts)


async def _once(text: str) -> AsyncIterator[str]:
    yield text


async def _primed(texts: AsyncIterator[str]) -> AsyncIterator[str]:
    """``texts`` with its first item already fetched (errors raise here, not later)."""
    try:
        first = await anext(texts)
    except StopAsyncIteration:
        return _once("")
    except BaseException:
        await _close(texts)
        raise
    return _Prepended(first, texts)


class _Prepended:
    """``first`` then ``rest``; closing it closes ``rest`` even before iteration."""

    def __init__(self, first: str, rest: AsyncIterator[str]) -> None:
        self._first: str | None = first
        self._rest = rest

    def __aiter__(self) -> _Prepended:
        return self

    async def __anext__(self) -> str:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return await anext(self._rest)

    async def aclose(self) -> None:
        await _close(self._rest)


async def _close(texts: AsyncIterator[str]) -> None:
    aclose = getattr(texts, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()

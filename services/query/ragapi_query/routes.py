"""HTTP endpoints of the query service (tenant API key on every one)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragapi_common.auth import TenantAuth
from ragapi_common.errors import ValidationFailed
from ragapi_common.rag.api import Turn
from ragapi_common.sse import EventStreamResponse
from ragapi_common.web import Slot, read_json

from .chat import completion, completion_chunks, requested_mode, split_messages
from .chat_models import MODELS, ChatCompletionRequest, ModelCard, ModelList
from .models import GraphParams, GraphResponse, QueryRequest, QueryResponse, ReferenceOut
from .runner import LiveAnswer, QueryRunner
from .streaming import query_events

#: What a handler answers: a plain response or an event stream.
Reply = Response | EventStreamResponse


class QueryRoutes:
    """Routes bound to the auth and runner the lifespan opens."""

    def __init__(
        self,
        auth: Slot[TenantAuth],
        runner: Slot[QueryRunner],
        *,
        ping_s: float,
        body_limit: int,
    ) -> None:
        self.auth = auth
        self.runner = runner
        self.ping_s = ping_s
        self.body_limit = body_limit

    def routes(self) -> list[Route]:
        return [
            Route("/v1/query", self.query, methods=["POST"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/graph", self.graph, methods=["GET"]),
        ]

    def _sse(self, chunks: Any, live: LiveAnswer) -> EventStreamResponse:
        return EventStreamResponse(chunks, ping_s=self.ping_s, on_close=live.deltas.aclose)

    async def query(self, request: Request) -> Reply:
        tenant = await self.auth.value.tenant(request)
        body = await read_json(request, QueryRequest, limit=self.body_limit)
        runner = self.runner.value
        history = [Turn(role=t.role, content=t.content) for t in body.conversation_history]
        question = runner.question(
            tenant, body.query, mode=body.mode, top_k=body.top_k, history=history
        )
        if body.stream:
            live = await runner.stream(tenant, question, only_context=body.only_context)
            events = query_events(live, include_references=body.include_references)
            return self._sse(events, live)
        answer = await runner.answer(tenant, question, only_context=body.only_context)
        references = answer.references if body.include_references else []
        result = QueryResponse(
            answer=answer.text,
            mode=question.mode,
            references=[ReferenceOut.of(ref) for ref in references],
            llm=answer.llm,
        )
        return JSONResponse(result.model_dump(mode="json"))

    async def chat(self, request: Request) -> Reply:
        tenant = await self.auth.value.tenant(request)
        body = await read_json(request, ChatCompletionRequest, limit=self.body_limit)
        mode = requested_mode(body.model)
        query, history = split_messages(body.messages)
        runner = self.runner.value
        question = runner.question(tenant, query, mode=mode, top_k=body.top_k, history=history)
        if body.stream:
            live = await runner.stream(tenant, question)
            return self._sse(completion_chunks(body, live), live)
        return JSONResponse(completion(body, await runner.answer(tenant, question)))

    async def models(self, request: Request) -> Response:
        await self.auth.value.tenant(request)
        cards = ModelList(data=[ModelCard(id=name) for name in MODELS])
        return JSONResponse(cards.model_dump(mode="json"))

    async def graph(self, request: Request) -> Response:
        tenant = await self.auth.value.tenant(request)
        try:
            params = GraphParams.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise ValidationFailed.from_pydantic(exc) from exc
        graph = await self.runner.value.graph(
            tenant, params.label or None, params.max_depth, params.max_nodes
        )
        result = GraphResponse(nodes=graph.nodes, edges=graph.edges)
        return JSONResponse(result.model_dump(mode="json"))

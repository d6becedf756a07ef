"""The query service's ``/openapi.json``."""

from __future__ import annotations

from ragapi_common.errors import (
    BadRequest,
    DeadlineExceeded,
    DependencyUnavailable,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from ragapi_common.openapi import OpenApi, query_param
from ragapi_common.sse import MEDIA_TYPE

from .chat_models import ChatCompletion, ChatCompletionRequest, ModelList
from .models import GraphResponse, QueryRequest, QueryResponse, StreamEvents

_QUERY_ERRORS = (
    BadRequest,
    Unauthorized,
    PayloadTooLarge,
    ValidationFailed,
    RateLimited,
    DependencyUnavailable,
    DeadlineExceeded,
)


def openapi() -> OpenApi:
    doc = OpenApi("ragapi query")
    doc.operation(
        "POST",
        "/v1/query",
        "Answer a question with references (JSON, or SSE with stream: true)",
        tag="query",
        body=QueryRequest,
        ok=(200, QueryResponse),
        errors=_QUERY_ERRORS,
    )
    doc.paths["/v1/query"]["post"]["responses"]["200"]["content"][MEDIA_TYPE] = {
        "schema": {"$ref": "#/components/schemas/StreamEvents"},
    }
    doc.schemas["StreamEvents"] = StreamEvents.model_json_schema()
    doc.operation(
        "POST",
        "/v1/chat/completions",
        "OpenAI Chat Completions over the tenant's documents (models rag-naive ... rag-mix)",
        tag="query",
        body=ChatCompletionRequest,
        ok=(200, ChatCompletion),
        errors=_QUERY_ERRORS,
    )
    doc.operation(
        "GET",
        "/v1/models",
        "The models of /v1/chat/completions (one per query mode)",
        tag="query",
        ok=(200, ModelList),
        errors=(Unauthorized,),
    )
    doc.operation(
        "GET",
        "/v1/graph",
        "The knowledge graph around a label (the most connected nodes without one)",
        tag="query",
        ok=(200, GraphResponse),
        errors=(Unauthorized, ValidationFailed, RateLimited, DeadlineExceeded),
        parameters=[
            query_param("label", "entity to centre on", {"type": "string"}),
            query_param("max_depth", "hops from the label", {"type": "integer", "default": 2}),
            query_param("max_nodes", "node cap", {"type": "integer", "default": 200}),
        ],
    )
    return doc

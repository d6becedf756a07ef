"""OpenAI Chat Completions over the tenant's knowledge base.

The last user message is the query, the messages before it the conversation
history. References reach OpenAI clients twice: as a ``Sources:`` footer at the
end of the answer text (what every chat UI shows) and as a ``references`` field.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ragapi_common.errors import RagapiError, ValidationFailed
from ragapi_common.rag.api import Answer, QueryMode, Reference, Turn
from ragapi_common.sse import encode_event

from .chat_models import MODELS, ChatCompletionRequest, ChatMessage
from .models import ReferenceOut
from .runner import LiveAnswer

log = logging.getLogger(__name__)
_HISTORY_ROLES = {"user": "user", "assistant": "assistant", "system": "system"}


def requested_mode(model: str) -> QueryMode | None:
    """The query mode a model name asks for; 422 for an unknown model."""
    if model not in MODELS:
        raise ValidationFailed(
            f"unknown model {model!r}",
            details=[{"field": "model", "message": f"one of {', '.join(MODELS)}"}],
        )
    return MODELS[model]


def split_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """(query, history): the last user message, and the user/assistant/system turns before it."""
    last_user = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None
    )
    query = messages[last_user].text().strip() if last_user is not None else ""
    if last_user is None or not query:
        raise ValidationFailed(
            "the conversation has no user message to answer",
            details=[{"field": "messages", "message": "needs a non-empty user message"}],
        )
    history = [
        Turn(role=_HISTORY_ROLES[m.role], content=m.text())  # type: ignore[arg-type]
        for m in messages[:last_user]
        if m.role in _HISTORY_ROLES and m.text()
    ]
    return query, history


def sources_footer(references: Sequence[Reference]) -> str:
    """``Sources:`` with one numbered line per cited document (chunks of one doc merged)."""
    seen: dict[str, str] = {}
    for ref in references:
        seen.setdefault(ref.doc_id, ref.name or ref.doc_id)
    if not seen:
        return ""
    lines = [f"[{n}] {name} ({doc_id})" for n, (doc_id, name) in enumerate(seen.items(), 1)]
    return "\n\nSources:\n" + "\n".join(lines)


def _references(references: Sequence[Reference]) -> list[dict[str, str]]:
    return [ReferenceOut.of(ref).model_dump() for ref in references]


def completion(request: ChatCompletionRequest, answer: Answer) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    text = answer.text + sources_footer(answer.references)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "references": _references(answer.references),
    }


class _Chunks:
    """Builds ``chat.completion.chunk`` events that share one id, time and model."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def event(self, delta: dict[str, str], *, finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return encode_event(body)


async def completion_chunks(
    request: ChatCompletionRequest, live: LiveAnswer
) -> AsyncIterator[bytes]:
    """The streaming body: role + references first, text deltas, the sources footer,
    a ``stop`` chunk and ``[DONE]``; a failure sends an ``error`` object, then ``[DONE]``."""
    chunks = _Chunks(request.model)
    yield chunks.event(
        {"role": "assistant", "content": ""}, references=_references(live.references)
    )
    try:
        async for text in live.deltas:
            yield chunks.event({"content": text})
    except RagapiError as exc:
        yield encode_event(exc.to_body())
        yield encode_event("[DONE]")
        return
    except Exception:
        log.exception("streamed chat completion failed")
        yield encode_event(RagapiError("internal error (a bug: see logs)").to_body())
        yield encode_event("[DONE]")
        return
    footer = sources_footer(live.references)
    if footer:
        yield chunks.event({"content": footer})
    yield chunks.event({}, finish="stop")
    yield encode_event("[DONE]")

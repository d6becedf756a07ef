"""The OpenAI wire format the fake provider answers in: completions and SSE chunks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from tests.support import fake_answers


def pieces(text: str) -> Iterator[str]:
    """The answer in small deltas (words with their trailing space)."""
    start = 0
    for index, char in enumerate(text):
        if char == " " or index - start >= 8:
            yield text[start : index + 1]
            start = index + 1
    if start < len(text):
        yield text[start:]


def sse_chunk(model: str, delta: dict[str, Any], finish: str | None) -> str:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


def cut(text: str, max_tokens: Any) -> tuple[str, str]:
    """Honour ``max_tokens`` (4 characters a token): cut answers say ``length``."""
    if isinstance(max_tokens, int) and len(text) > max_tokens * 4:
        return text[: max_tokens * 4], "length"
    return text, "stop"


def completion(
    model: str, messages: list[dict[str, Any]], text: str, finish: str
) -> dict[str, Any]:
    prompt_tokens = sum(len(fake_answers.text_of(m.get("content"))) for m in messages) // 4
    completion_tokens = len(text) // 4
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }

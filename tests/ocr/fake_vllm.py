"""A fake vLLM serving DeepSeek-OCR: the shared fake provider, strict about the request.

It answers ``POST /v1/chat/completions`` with grounding markup (``reply``)
only when the request has the shape vLLM's DeepSeek-OCR recipe needs, and 400
(as vLLM would refuse it) otherwise; latency and 429/500 failures come from
:class:`tests.support.fake_provider.FakeProvider`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.support.fake_provider import FakeProvider

PROMPT = "<image>\n<|grounding|>Convert the document to markdown."
XARGS = {"ngram_size": 30, "window_size": 90, "whitelist_token_ids": [128821, 128822]}

PAGE_ANSWER = (
    "<|ref|>title<|/ref|><|det|>[[100, 40, 900, 90]]<|/det|>\n# Annual Report 2026\n\n"
    "<|ref|>text<|/ref|><|det|>[[100, 120, 900, 300]]<|/det|>\n"
    "Revenue grew by 12 percent in the northern region.\n\n"
    "<|ref|>table<|/ref|><|det|>[[100, 320, 900, 600]]<|/det|>\n"
    "<table><tr><td>Region</td><td>Revenue</td></tr><tr><td>North</td><td>120</td></tr></table>\n\n"
    "<|ref|>table_caption<|/ref|><|det|>[[100, 610, 900, 640]]<|/det|>\n"
    "Table 1: Revenue by region\n\n"
    "<|ref|>image<|/ref|><|det|>[[100, 650, 500, 950]]<|/det|>\n\n"
    "<|ref|>image_caption<|/ref|><|det|>[[520, 800, 900, 840]]<|/det|>\nFigure 1: Sales chart\n\n"
    "<|ref|>equation<|/ref|><|det|>[[100, 960, 900, 990]]<|/det|>\n\\[E = m c^2\\]\n"
    "<\uff5cend\u2581of\u2581sentence\uff5c>"
)


def shape_errors(body: dict[str, Any]) -> list[str]:
    """What is wrong with a DeepSeek-OCR chat request ([] when nothing)."""
    errors = []
    if body.get("temperature") != 0:
        errors.append("temperature must be 0")
    if not isinstance(body.get("max_tokens"), int):
        errors.append("max_tokens must be set")
    if body.get("skip_special_tokens") is not False:
        errors.append("skip_special_tokens must be false")
    if body.get("vllm_xargs") != XARGS:
        errors.append("vllm_xargs must carry the n-gram guard")
    messages = body.get("messages") or []
    if len(messages) != 1 or messages[0].get("role") != "user":
        return [*errors, "one user message expected"]
    parts = messages[0].get("content") or []
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        return [*errors, "content must be a list of parts"]
    images = [p for p in parts if p.get("type") == "image_url"]
    texts = [p.get("text") for p in parts if p.get("type") == "text"]
    if len(images) != 1 or texts != [PROMPT]:
        errors.append("one image and exactly the grounding prompt expected")
    elif sum(t.count("<image>") for t in texts) != len(images):
        errors.append("one <image> per image")
    else:
        url = str(images[0].get("image_url", {}).get("url", ""))
        if not url.startswith("data:image/png;base64,"):
            errors.append("the image must be a PNG data URL")
        elif not base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG"):
            errors.append("the data URL is not a PNG")
    return errors


def page_png(body: dict[str, Any]) -> bytes:
    """The page image of a request that passed :func:`shape_errors`."""
    parts = body["messages"][0]["content"]
    url = next(p for p in parts if p.get("type") == "image_url")["image_url"]["url"]
    return base64.b64decode(url.split(",", 1)[1])


@dataclass
class FakeVllm(FakeProvider):
    """``reply`` defaults to :data:`PAGE_ANSWER`, or ``replier(page_png)`` answers when set;
    a malformed request answers 400."""

    replier: Callable[[bytes], str] | None = None

    async def _chat(self, request: Request) -> Response:
        async with self._serving(request) as (body, failure):
            if failure is not None:
                return failure
            errors = shape_errors(body)
            if errors:
                return JSONResponse({"error": {"message": "; ".join(errors)}}, status_code=400)
            if self.replier is not None:
                text = self.replier(page_png(body))
            else:
                text = self.behaviour.reply or PAGE_ANSWER
            return JSONResponse(
                {
                    "id": "chatcmpl-ocr",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )

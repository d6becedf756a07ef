"""Chunk records as LightRAG's budgets render them, and their token counts, kept per chunk.

A chunk recurs query after query; its first-stage key (``{"content": ...}``) and the
token counts of its record numbered ``0`` are kept per (content, headings), so the
budgets (:mod:`.truncation`) neither render nor re-segment every chunk per query
(decision 0505).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from ._lightrag import render_chunks_context_text
from .tokenizer import CachedTokenizer

#: Rendered first-stage keys by (content, headings): a chunk recurs query after query, and
#: the same string object (its hash kept) is then also a cheap memo key for its tokens.
_APPROX_KEYS: dict[tuple[str, str | None], str] = {}
KEPT_RECORDS = 8192
T = TypeVar("T")


def _record_key(chunk: dict[str, Any]) -> tuple[str, str | None] | None:
    """A chunk's (content, headings) when both are strings: what its record is made of."""
    content, headings = chunk.get("content"), chunk.get("content_headings") or None
    if type(content) is str and (headings is None or type(headings) is str):
        return content, headings
    return None


def _kept(cache: dict[Any, T], key: Any, compute: Callable[[], T]) -> T:
    """``compute()``, kept in ``cache`` under ``key`` (not when None; at most KEPT_RECORDS)."""
    if key is None:
        return compute()
    found = cache.get(key)
    if found is None:
        found = compute()
        if len(cache) >= KEPT_RECORDS:
            cache.clear()
        cache[key] = found
    return found


def approx_key(chunk: dict[str, Any]) -> str:
    def render() -> str:
        payload = {"content": chunk.get("content")}
        if chunk.get("content_headings"):
            payload["content_headings"] = chunk["content_headings"]
        return json.dumps(payload, ensure_ascii=False)

    return _kept(_APPROX_KEYS, _record_key(chunk), render)


#: The reference number every chunk record is counted with (:func:`rendered_count`).
COUNTED_REFERENCE = "0"


def rendered_count(rendered: list[dict[str, Any]], tokenizer: CachedTokenizer) -> int:
    """Tokens of ``render_chunks_context_text(rendered)``, a chunk's record memoised once.

    A record reads ``{"reference_id": "N", "content": ...}``: cl100k's
    pre-tokenizer ends the piece before ``N`` at its first digit, takes the
    digits as pieces of their own (1-3 digits each) and starts the next piece
    at the closing quote, so a record's tokens are those of the same record
    numbered ``0`` with the tokens of ``0`` exchanged for those of ``N``. Each
    chunk is then one memo key, whatever number a query gives it.
    """
    references = [str(chunk["reference_id"]) for chunk in rendered]
    if not all(ref.isascii() and ref.isdigit() for ref in references):
        return tokenizer.count(render_chunks_context_text(rendered))
    # Records are one line each, starting with "{" and ending with "}": the joined text's
    # segments are each record and its "\n" (the last without), counted per chunk once.
    counts = [_record_count(chunk, tokenizer) for chunk in rendered]
    zero = tokenizer.count(COUNTED_REFERENCE)
    total = sum(with_newline for with_newline, _ in counts[:-1]) + counts[-1][1] if counts else 0
    return total + sum(tokenizer.count(ref) - zero for ref in references)


def _record_count(chunk: dict[str, Any], tokenizer: CachedTokenizer) -> tuple[int, int]:
    """Tokens of the chunk's record numbered ``0``, with and without its ``\\n``."""

    def count() -> tuple[int, int]:
        record = render_chunks_context_text([{**chunk, "reference_id": COUNTED_REFERENCE}])
        return tokenizer.count(record + "\n"), tokenizer.count(record)

    return _kept(tokenizer.records, _record_key(chunk), count)

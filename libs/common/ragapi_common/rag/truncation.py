"""LightRAG's token budgets, applied without tokenizing what they throw away.

Per query LightRAG fits its entity, relation and chunk lists into token
budgets with ``truncate_list_by_token_size``: it renders *every* record to
JSON, joins them, tokenizes the whole text, then searches the cut. A mix
query on the benchmark corpus renders ~170 records for a context of ~25 k
tokens, most of it past the budget (decision 0504).

:func:`truncate_list` gives the same result (same items kept) by rendering
and counting records one at a time and stopping once the budget is passed:
with :class:`~.tokenizer.CachedTokenizer` the tokens of ``a + "\\n" + b`` are
those of ``a + "\\n"`` then those of ``b`` whenever ``a`` ends and ``b``
starts with a non-space character (:func:`~.tokenizer.segments`), so the
tokens of the text up to the record that passes the budget are the text's
first tokens, and LightRAG's own search for the cut (the same tokenizer
methods) runs on that prefix only. Any other tokenizer or separator, or a
record that breaks that rule, goes to LightRAG's function unchanged.
``tests/rag/test_query_equivalence.py`` checks both against LightRAG.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from . import hops
from ._lightrag import (
    TokenBudgetError,
    Tokenizer,
    generate_reference_list_from_chunks,
    lightrag_operate,
    lightrag_utils,
    render_chunks_context_text,
    run_in_tokenizer_executor,
    truncate_list_by_token_size,
)
from .headings import attach_content_headings
from .records import approx_key, rendered_count
from .tokenizer import CachedTokenizer, segments

SEPARATOR = "\n"
#: Texts up to this size are counted on the event loop (a query, a prompt template:
#: memo hits, or at most ~0.3 ms of tiktoken), not sent to LightRAG's tokenizer thread.
INLINE_COUNT_CHARS = 8192
#: With the memoised tokenizer, up to this size: a built context is the records the
#: budgets just counted (memo hits), and a hop cost more than the count (decision 0505).
INLINE_CACHED_COUNT_CHARS = 4 * hops.INLINE_CHARS


def _cuts_around(text: str) -> bool:
    """Whether a segment boundary falls on both sides of ``text`` in a ``\\n``-joined list."""
    return bool(text) and not text[0].isspace() and not text[-1].isspace()


def _render_to_budget(
    items: list[Any], key: Callable[[Any], str], budget: int, tokenizer: CachedTokenizer
) -> tuple[list[str], bool] | None:
    """Records rendered up to the first one whose end passes ``budget`` tokens.

    Returns the rendered records and whether rendering stopped early (then
    the joined list is longer than ``budget`` tokens), or None when a record
    does not start and end with a non-space character (no segment boundary).
    """
    rendered: list[str] = []
    used = 0
    for index, item in enumerate(items):
        text = key(item)  # the record after the last one kept is checked too
        if not _cuts_around(text):
            return None
        if used > budget:
            return rendered, True
        rendered.append(text)
        if index < len(items) - 1:
            used += tokenizer.count(text + SEPARATOR)
    return rendered, False


def _fitting_items(rendered: list[str], end: int) -> int:
    """Records whose ``\\n``-joined text ends at or before character ``end``."""
    length = 0
    for index, text in enumerate(rendered):
        length += (1 if index else 0) + len(text)
        if length > end:
            return index
    return len(rendered)


def _safe_end(text: str, budget: int, tokenizer: CachedTokenizer) -> int | None:
    """Character end of the longest prefix LightRAG's search keeps (None: not this way).

    ``text``'s tokens are its segments' memoised tokens end to end; the offset of
    token ``k`` is that of its segment plus the characters of the segment's
    tokens before it (UTF-8 decoding restarts at each segment's start), as
    ``CachedTokenizer._boundaries`` computes it over the whole token list.
    """
    pieces = [tokenizer.segment_tokens(piece) for piece in segments(text)]
    if not all(piece.round_trips for piece in pieces):
        return None  # lossy round trip: LightRAG's generic path, on the whole list
    chars, firsts = [0], [0]
    for piece, tokens in zip(segments(text), pieces, strict=True):
        chars.append(chars[-1] + len(piece))
        firsts.append(firsts[-1] + len(tokens))
    total = firsts[-1]
    decode_bytes = tokenizer.tokenizer.decode_bytes

    def boundary(k: int) -> int:
        if k >= total:
            return len(text)
        i = bisect.bisect_right(firsts, k) - 1
        head = decode_bytes(pieces[i][: k - firsts[i]]).decode("utf-8", errors="ignore")
        return chars[i] + len(head)

    # total only bounds the first candidate (min(total, budget)); the whole list
    # has more than ``budget`` tokens, and so does this prefix.
    span, _ = tokenizer._prefix_span_via_boundary(text, 0, 0, budget, total, boundary)
    return int(span.end)


def _lightrags(
    list_data: list[Any], key: Callable[[Any], str], separator: str, max_tokens: int,
    tokenizer: Tokenizer,
) -> list[Any]:  # fmt: skip
    kept: list[Any] = truncate_list_by_token_size(list_data, key, separator, max_tokens, tokenizer)
    return kept


def truncate_list(
    list_data: list[Any],
    key: Callable[[Any], str],
    separator: str,
    max_token_size: int,
    tokenizer: Tokenizer,
) -> list[Any]:
    """``truncate_list_by_token_size``, rendering and counting only up to the budget."""
    if max_token_size <= 0 or not list_data:
        return []
    if separator != SEPARATOR or not isinstance(tokenizer, CachedTokenizer):
        return _lightrags(list_data, key, separator, max_token_size, tokenizer)
    found = _render_to_budget(list_data, key, max_token_size, tokenizer)
    if found is None:
        return _lightrags(list_data, key, separator, max_token_size, tokenizer)
    rendered, over = found
    try:
        if over:
            end = _safe_end(SEPARATOR.join(rendered) + SEPARATOR, max_token_size, tokenizer)
            if end is None:  # lossy round trip: LightRAG's generic path over the whole text
                return _lightrags(list_data, key, separator, max_token_size, tokenizer)
        else:
            end = tokenizer.truncate_by_token_limit(SEPARATOR.join(rendered), max_token_size).end
    except TokenBudgetError:
        return []
    k = _fitting_items(rendered, end)
    # As LightRAG: BPE counts are not monotonic in length, so the kept prefix is re-counted.
    while k > 0 and tokenizer.count(SEPARATOR.join(rendered[:k])) > max_token_size:
        k -= 1
    return list_data[:k]


async def acount_tokens(tokenizer: Tokenizer, content: str) -> int:
    """LightRAG's ``acount_tokens``; a short text is counted without the thread hop."""
    inline = INLINE_CACHED_COUNT_CHARS if isinstance(tokenizer, CachedTokenizer) else 0
    if len(content) <= max(INLINE_COUNT_CHARS, inline):
        return len(tokenizer.encode(content))
    count: int = await run_in_tokenizer_executor(_count, tokenizer, content)
    return count


def _count(tokenizer: Tokenizer, content: str) -> int:
    return len(tokenizer.encode(content))


async def atruncate_list(
    list_data: list[Any],
    key: Callable[[Any], str],
    separator: str,
    max_token_size: int,
    tokenizer: Tokenizer,
) -> list[Any]:
    """:func:`truncate_list`, on LightRAG's tokenizer thread when the list is large."""
    kept: list[Any] = await hops.run(
        truncate_list, list_data, key, separator, max_token_size, tokenizer
    )
    return kept


def truncate_chunks(
    chunks: list[dict[str, Any]], max_token_size: int, tokenizer: Tokenizer
) -> list[dict[str, Any]]:
    """LightRAG's ``_truncate_chunks_for_unified_context`` on :func:`truncate_list`.

    The first stage sizes the list on the chunks' content, the second
    re-counts the kept chunks as they will be rendered (with their reference
    numbers) and drops chunks from the end until they fit.
    """
    if max_token_size <= 0 or not chunks:
        return []
    approx = truncate_list(chunks, approx_key, SEPARATOR, max_token_size, tokenizer)
    k = len(approx)
    while k > 0:
        _, rendered = generate_reference_list_from_chunks(approx[:k])
        if isinstance(tokenizer, CachedTokenizer):
            count = rendered_count(rendered, tokenizer)
        else:
            count = len(tokenizer.encode(render_chunks_context_text(rendered)))
        if count <= max_token_size:
            break
        k -= 1
    return approx[:k]


#: (module, name) -> LightRAG's own step, as imported (the equivalence tests run them).
LIGHTRAG_STEPS: dict[tuple[Any, str], Any] = {
    (lightrag_operate, "atruncate_list_by_token_size"): (
        lightrag_operate.atruncate_list_by_token_size
    ),
    (lightrag_operate, "acount_tokens"): lightrag_operate.acount_tokens,
    (lightrag_utils, "_truncate_chunks_for_unified_context"): (
        lightrag_utils._truncate_chunks_for_unified_context
    ),
    (lightrag_operate, "_attach_content_headings"): lightrag_operate._attach_content_headings,
    (lightrag_utils, "run_in_tokenizer_executor"): lightrag_utils.run_in_tokenizer_executor,
}
OUR_STEPS: dict[tuple[Any, str], Any] = {
    (lightrag_operate, "atruncate_list_by_token_size"): atruncate_list,
    (lightrag_operate, "acount_tokens"): acount_tokens,
    (lightrag_utils, "_truncate_chunks_for_unified_context"): truncate_chunks,
    (lightrag_operate, "_attach_content_headings"): attach_content_headings,
    # process_chunks_unified's hop for truncate_chunks (LightRAG's other uses: unchanged).
    (lightrag_utils, "run_in_tokenizer_executor"): hops.inline_for(truncate_chunks),
}


def install() -> None:
    """Make LightRAG's query steps use these (process-wide; the results are LightRAG's)."""
    for (module, name), step in OUR_STEPS.items():
        setattr(module, name, step)

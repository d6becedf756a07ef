"""The memoised tokenizer gives exactly what LightRAG's tiktoken tokenizer gives."""

from __future__ import annotations

import copy
import json
import random

import pytest
import tiktoken

from ragapi_common.rag.tokenizer import ENCODING, CachedTokenizer, OfflineTokenizer, segments

PIECES = [
    "a", "Zorblax", " ", "  ", "\n", "\n\n", "\r\n", "\t", ".", ",", "}", "{", "'s", "'ll",
    "1", "23", "456", "中", "文字", "é", "🙂", "👩\u200d👩\u200d👧", "\u00a0", "\u3000", "\x1c",
    "\u2028", "-", '"', ":", " the", "\\n", "<|endoftext|>",
]  # fmt: skip


def _random_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(length))


def _outcome(tokenizer: OfflineTokenizer, text: str, budget: int) -> object:
    try:
        span = tokenizer.truncate_by_token_limit(text, budget)
    except Exception as error:  # both must fail alike, e.g. TokenBudgetError
        return type(error).__name__
    return span.start, span.end, span.token_count


def test_encoding_of_large_texts_by_segments_equals_tiktoken() -> None:
    encoding = tiktoken.get_encoding(ENCODING)
    cached = CachedTokenizer()
    rng = random.Random(7)
    for _ in range(400):
        text = _random_text(rng, rng.randint(1, 6000))
        assert "".join(segments(text)) == text
        assert cached.encode(text) == encoding.encode(text, disallowed_special=())
    records = [{"reference_id": str(n), "content": _random_text(rng, 900)} for n in range(40)]
    context = "\n".join(json.dumps(record, ensure_ascii=False) for record in records)
    assert len(list(segments(context))) == 40
    assert cached.encode(context) == encoding.encode(context, disallowed_special=())
    assert cached.encode(context) == cached.encode(context)  # from the memo, unchanged


@pytest.mark.parametrize("seed", range(3))
def test_truncation_spans_equal_lightrags_tiktoken_tokenizer(seed: int) -> None:
    cached, reference = CachedTokenizer(), OfflineTokenizer()
    rng = random.Random(seed)
    truncated = 0
    for _ in range(150):
        text = _random_text(rng, rng.randint(1, 3000))
        budget = rng.randint(1, 1500)
        outcome = _outcome(cached, text, budget)
        assert outcome == _outcome(reference, text, budget)
        truncated += isinstance(outcome, tuple) and outcome[1] < len(text)
    assert truncated > 50  # the search path, not only "fits whole", was compared


def test_one_shared_instance_survives_lightrags_deep_copies() -> None:
    tokenizer = CachedTokenizer()
    assert copy.deepcopy(tokenizer) is tokenizer
    assert tokenizer.decode(tokenizer.encode("héllo 世界")) == "héllo 世界"


def test_counts_equal_encodings_and_records_are_memoised_one_by_one() -> None:
    encoding = tiktoken.get_encoding(ENCODING)
    cached = CachedTokenizer(max_entries=64)
    rng = random.Random(11)
    records = [json.dumps({"entity": _random_text(rng, 30)}, ensure_ascii=False) for _ in range(8)]
    for _ in range(50):
        text = "\n".join(rng.sample(records, rng.randint(1, 8)))
        expected = encoding.encode(text, disallowed_special=())
        assert cached.encode(text) == expected
        assert cached.count(text) == len(expected)
    # Small lists of records are memoised per record (with and without its newline),
    # whatever selection of them was asked for.
    assert cached.cache_info().currsize <= 2 * len(records)
    for _ in range(500):  # the memo stays within its bound
        cached.count(_random_text(rng, 40))
    assert cached.cache_info().currsize == cached.cache_info().maxsize == 64


def test_the_default_memo_holds_a_large_tenants_records() -> None:
    assert CachedTokenizer().cache_info().maxsize == 8192

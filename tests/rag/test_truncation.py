"""The lazy budgets keep exactly the items LightRAG's own truncation keeps."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ragapi_common.rag._lightrag import (
    lightrag_utils,
    render_chunks_context_text,
    truncate_list_by_token_size,
)
from ragapi_common.rag.records import rendered_count
from ragapi_common.rag.tokenizer import CachedTokenizer, OfflineTokenizer
from ragapi_common.rag.truncation import (
    LIGHTRAG_STEPS,
    _render_to_budget,
    _safe_end,
    acount_tokens,
    truncate_chunks,
    truncate_list,
)

WORDS = [
    "Zorblax", "Industries", "quantum", "toaster", "Helsinki", "中文", "文字", "é", "🙂", ",",
    ".", "1999", "42", " ", "  ", "\n", "\t", '"', "'s", "the", "of", "-", "{", "}", "\\",
]  # fmt: skip


def _text(rng: random.Random, words: int) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(["", " "]) for _ in range(words))


def _records(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [
        {"entity": _text(rng, 3), "type": "thing", "description": _text(rng, rng.randint(1, 120))}
        for _ in range(n)
    ]


def _key(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


@pytest.mark.parametrize("seed", range(4))
def test_lists_keep_what_lightrag_keeps(seed: int) -> None:
    rng = random.Random(seed)
    cached, reference = CachedTokenizer(), OfflineTokenizer()
    partial = 0
    for _ in range(60):
        records = _records(rng, rng.randint(0, 40))
        budget = rng.choice([0, 1, 5, rng.randint(10, 600), rng.randint(600, 4000)])
        kept = truncate_list(records, _key, "\n", budget, cached)
        assert kept == truncate_list_by_token_size(records, _key, "\n", budget, reference)
        partial += 0 < len(kept) < len(records)
    assert partial > 10  # cuts inside the list, not only "all" or "none", were compared


def test_records_without_segment_boundaries_and_other_tokenizers_fall_back() -> None:
    rng = random.Random(9)
    reference = OfflineTokenizer()
    texts = [f" {_text(rng, 20)} " for _ in range(30)]  # spaces at both ends: no cuts

    def spaced(text: str) -> str:
        return text

    for budget in (3, 50, 200, 10_000):
        expected = truncate_list_by_token_size(texts, spaced, "\n", budget, reference)
        assert truncate_list(texts, spaced, "\n", budget, CachedTokenizer()) == expected
        assert truncate_list(texts, spaced, "\n", budget, reference) == expected
        assert truncate_list(texts, spaced, " | ", budget, CachedTokenizer()) == (
            truncate_list_by_token_size(texts, spaced, " | ", budget, reference)
        )


def test_only_records_up_to_the_budget_are_rendered() -> None:
    records = _records(random.Random(3), 200)
    rendered: list[int] = []

    def key(record: dict[str, Any]) -> str:
        rendered.append(1)
        return _key(record)

    kept = truncate_list(records, key, "\n", 300, CachedTokenizer())
    assert 0 < len(kept) < 50
    assert len(rendered) <= len(kept) + 3


@pytest.mark.parametrize("seed", range(3))
def test_chunks_keep_what_lightrag_keeps(seed: int) -> None:
    rng = random.Random(seed)
    cached, reference = CachedTokenizer(), OfflineTokenizer()
    original = LIGHTRAG_STEPS[(lightrag_utils, "_truncate_chunks_for_unified_context")]
    assert original is not truncate_chunks
    for _ in range(25):
        files = [f"doc-{n}.txt" for n in range(rng.randint(1, 8))]
        chunks = [
            {"content": _text(rng, rng.randint(5, 300)), "file_path": rng.choice(files),
             **({"content_headings": _text(rng, 3)} if rng.random() < 0.2 else {})}
            for _ in range(rng.randint(1, 25))
        ]  # fmt: skip
        budget = rng.randint(1, 3000)
        assert truncate_chunks(chunks, budget, cached) == original(chunks, budget, reference)


async def test_token_counts_short_on_the_loop_long_on_the_thread_equal_lightrags() -> None:
    rng = random.Random(4)
    reference = OfflineTokenizer()
    # Past INLINE_COUNT_CHARS at 4000 words, past INLINE_CACHED_COUNT_CHARS at 60000.
    for words in (0, 3, 400, 4000, 60000):
        text = _text(rng, words)
        expected = len(reference.encode(text))
        assert await acount_tokens(CachedTokenizer(), text) == expected
        assert await acount_tokens(reference, text) == expected


@pytest.mark.parametrize("seed", range(3))
def test_the_cut_searched_on_the_prefix_is_the_cut_on_the_whole_list(seed: int) -> None:
    rng = random.Random(100 + seed)
    cached, reference = CachedTokenizer(), OfflineTokenizer()
    compared = 0
    for _ in range(40):
        records = _records(rng, rng.randint(2, 40))
        budget = rng.randint(5, 2000)
        found = _render_to_budget(records, _key, budget, cached)
        assert found is not None
        rendered, over = found
        if not over:
            continue
        whole = "\n".join(_key(record) for record in records)
        expected = reference.truncate_by_token_limit(whole, budget).end
        assert _safe_end("\n".join(rendered) + "\n", budget, cached) == expected
        compared += 1
    assert compared > 15


def test_chunk_records_are_counted_as_rendered_whatever_their_numbers() -> None:
    rng = random.Random(21)
    cached, encoding = CachedTokenizer(), OfflineTokenizer()
    for _ in range(60):
        rendered = [
            {"reference_id": rng.choice(["1", "7", "12", "20", "999", "1000", "123456", ""]),
             "content": rng.choice(["", "9", "1 ", "-"]) + _text(rng, rng.randint(0, 80)),
             **({"content_headings": _text(rng, 3)} if rng.random() < 0.3 else {})}
            for _ in range(rng.randint(1, 12))
        ]  # fmt: skip
        text = render_chunks_context_text(rendered)
        assert rendered_count(rendered, cached) == len(encoding.encode(text))
    # One memo key per chunk, whatever number it was given.
    fresh = CachedTokenizer()
    record = {"content": "Zorblax Industries builds quantum toasters."}
    for number in range(1, 21):
        rendered_count([{**record, "reference_id": str(number)}], fresh)
    assert fresh.cache_info().currsize <= 1 + 2 + 20  # the record, "0", the numbers

"""Content headings are attached as LightRAG attaches them, and skipped when there are none."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ragapi_common.rag._lightrag import lightrag_operate
from ragapi_common.rag.headings import attach_content_headings
from ragapi_common.rag.tokenizer import CachedTokenizer
from ragapi_common.rag.truncation import LIGHTRAG_STEPS

LIGHTRAGS = LIGHTRAG_STEPS[(lightrag_operate, "_attach_content_headings")]


class Chunks:
    """The two calls LightRAG's step makes on ``text_chunks_db``."""

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self.global_config = {"tokenizer": CachedTokenizer()}
        self.reads = 0

    async def get_by_ids(self, ids: list[str]) -> list[dict[str, Any] | None]:
        self.reads += 1
        return [copy.deepcopy(self.records.get(i)) for i in ids]


RECORDS = {
    "plain": {"content": "Zorblax Industries makes toasters."},
    "nested": {
        "content": "Helsinki office.",
        "heading": {"level": 3, "heading": "Offices", "parent_headings": ["Zorblax", "Europe"]},
    },
    "flat": {"content": "x", "heading": "Leaf", "parent_headings": ["关于", "公司"], "level": 2},
    "long": {"content": "y", "heading": "z", "parent_headings": ["Chapter " * 400, "B", "C"]},
}


@pytest.mark.parametrize(
    "ids", [["plain"], ["plain", "missing"], ["nested", "plain"], ["flat", "long", "nested"]]
)
async def test_the_same_headings_as_lightrags_step(ids: list[str]) -> None:
    ours = [{"chunk_id": i} for i in ids]
    theirs = copy.deepcopy(ours)
    await attach_content_headings(ours, Chunks(RECORDS))
    await LIGHTRAGS(theirs, Chunks(RECORDS))
    assert ours == theirs
    assert any("content_headings" in c for c in ours) == any(
        i != "plain" for i in ids if i in RECORDS
    )


async def test_nothing_to_read_without_chunks_or_storage() -> None:
    chunks = Chunks(RECORDS)
    await attach_content_headings([], chunks)
    await attach_content_headings([{"chunk_id": "plain"}], None)
    assert chunks.reads == 0

"""LightRAG's ``_attach_content_headings`` without a thread hop when there is nothing to attach.

Every query hands the whole backfill of its chunks' parent headings to
LightRAG's tokenizer thread, because a heading path is token-capped. Chunks of
plain text have no headings: the hop (a submit, a thread wake-up, a wake-up of
the loop) then costs more than the step, ~4 % of a naive query's CPU. The paths
are read on the loop (no tokenizer); only a non-empty one goes to the thread.
"""

from __future__ import annotations

from typing import Any

from ._lightrag import lightrag_operate, run_in_tokenizer_executor


async def attach_content_headings(chunks: list[dict[str, Any]], text_chunks_db: Any) -> None:
    """Backfill ``content_headings`` onto ``chunks`` in place, as LightRAG's step does."""
    if not text_chunks_db or not chunks:
        return
    records = await text_chunks_db.get_by_ids([chunk.get("chunk_id") for chunk in chunks])
    paths = [
        lightrag_operate.format_parent_headings(record) if isinstance(record, dict) else ""
        for record in records
    ]
    if not any(paths):
        return
    tokenizer = text_chunks_db.global_config.get("tokenizer")
    budget = lightrag_operate.DEFAULT_MAX_SECTION_CONTEXT_TOKENS

    def backfill() -> None:
        for chunk, path in zip(chunks, paths, strict=True):
            headings = lightrag_operate._truncate_section_context(path, tokenizer, budget)
            if headings:
                chunk["content_headings"] = headings

    await run_in_tokenizer_executor(backfill)

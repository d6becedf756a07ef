"""Large text uploads, end to end: HTTP upload -> processed -> LightRAG holds every byte.

The deployment's LLM is left out (LightRAG chunks and embeds only), so the test's time
goes to the path the bytes take, not to the fake model answering ~500 extraction
calls per MB; docs/decisions/0302-large-documents.md has the timings with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ragapi_common.bus import Bus
from tests.conftest import TenantFactory
from tests.support.fake_provider import CHAT

from .conftest import StackFactory
from .pipeline import tenant_rag

MB = 1_000_000
BOUNDARY = "large-text-boundary"
LINE = 60


def _lines(first: int, size: int) -> bytes:
    """Numbered lines (no chunk repeats another), plain ASCII that LightRAG keeps as is."""
    count = size // LINE + 1
    text = "".join(
        f"{n:09d} Quillon harbour ships slate north to Brindlemoor by barge.\n"
        for n in range(first, first + count)
    )
    return text.encode()[:size]


async def _body(size: int, digest: Any) -> AsyncIterator[bytes]:
    """A multipart body with ``size`` bytes of text ending in a non-space, streamed."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    sent = 0
    while sent < size:
        step = min(1 << 20, size - sent)
        piece = _lines(sent // LINE, step)
        if sent + step == size:
            piece = piece[:-1] + b"."
        digest.update(piece)
        sent += step
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(1 * MB, id="1MB"),
        pytest.param(30 * MB, id="30MB"),
        pytest.param(60 * MB, id="60MB", marks=[pytest.mark.huge, pytest.mark.timeout(900)]),
        pytest.param(100 * MB, id="100MB", marks=[pytest.mark.huge, pytest.mark.timeout(900)]),
    ],
)
async def test_a_large_text_upload_is_indexed_whole(
    size: int, make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest(llm_base_url="")
    tenant = await tenant_factory()
    digest = hashlib.sha256()
    headers = {**tenant.headers, "content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    response = await stack.client.post(
        "/v1/documents", content=_body(size, digest), headers=headers
    )
    assert response.status_code == 202, response.text
    (doc,) = response.json()["documents"]
    assert doc["sha256"] == digest.hexdigest()
    task = await stack.wait_task(tenant, response.json()["task_id"], timeout_s=800)
    assert task["status"] == "succeeded", task
    instance = await tenant_rag(bus, stack.rag, tenant)
    stored = await instance.rag.full_docs.get_by_id(doc["doc_id"])  # type: ignore[attr-defined]
    text: str = stored["content"]
    assert len(text) == size
    assert hashlib.sha256(text.encode()).hexdigest() == digest.hexdigest()


async def test_a_document_being_indexed_shows_how_far_lightrag_is(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    """Extraction of ~50 chunks at 0.2 s a call: the document says how many are done."""
    stack = await make_ingest(index_progress_interval_s=0.1)
    stack.fake.configure(latency_s=0.2, paths=(CHAT,))
    tenant = await tenant_factory()
    body = await stack.texts(tenant, {"long.txt": _lines(0, 200_000).decode().strip()})
    doc_id = body["documents"][0]["doc_id"]
    seen: set[str] = set()
    async with asyncio.timeout(120):
        while True:
            got = await stack.client.get(f"/v1/documents/{doc_id}", headers=tenant.headers)
            doc = got.json()
            if doc["status"] not in ("queued", "parsing", "indexing"):
                break
            if doc.get("progress"):
                seen.add(doc["progress"])
            await asyncio.sleep(0.05)
    assert doc["status"] == "processed", doc
    assert doc.get("progress") is None
    extracted = [
        p for p in seen if re.fullmatch(r"[\d,]+ of [\d,]+ chunks extracted after \d+ s", p)
    ]
    assert len(extracted) >= 2, seen  # it moves

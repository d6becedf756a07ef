"""A large upload streams through without holding the event loop and arrives intact."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

from ragapi_common.bus import Bus
from tests.conftest import TenantFactory
from tests.query.loopguard import LoopGuard

from .conftest import StackFactory

SIZE = 24 * 1024 * 1024
BOUNDARY = "large-upload-boundary"


async def _body(digest: hashlib._Hash) -> AsyncIterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="scan.pdf"\r\n\r\n'
    ).encode()
    sent = 0
    while sent < SIZE:
        piece = (b"%PDF-1.7\n" if sent == 0 else b"") + os.urandom(1024 * 1024)
        piece = piece[: SIZE - sent]
        digest.update(piece)
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_a_large_upload_never_blocks_the_loop(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    digest = hashlib.sha256()
    headers = {**tenant.headers, "content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    with LoopGuard(asyncio.get_running_loop()) as slow:
        response = await stack.client.post("/v1/documents", content=_body(digest), headers=headers)
    assert not slow.reports, "the event loop was blocked:\n" + "\n".join(slow.reports)
    assert response.status_code == 202, response.text
    (doc,) = response.json()["documents"]
    assert doc["size"] == SIZE
    assert doc["sha256"] == digest.hexdigest()
    assert doc["content_type"] == "application/pdf"
    assert await bus.files.size(f"{tenant.id}/{doc['doc_id']}") == SIZE

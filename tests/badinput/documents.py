"""Upload a file and follow its document to the end; the contract's error shape."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.slowness import slowness

#: A document's way through parsing (OCR) and indexing on a quiet machine, generous.
PROCESS_S = 90.0


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The contract's error body of ``response``, which must have ``status`` and ``code``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"], error
    return error


async def upload(
    client: httpx.AsyncClient, name: str, data: bytes, content_type: str = ""
) -> dict[str, Any]:
    """POST one file; the accepted document."""
    part = (name, data, content_type) if content_type else (name, data)
    response = await client.post("/v1/documents", files={"files": part})
    assert response.status_code == 202, response.text[:500]
    documents: list[dict[str, Any]] = response.json()["documents"]
    assert len(documents) == 1
    return documents[0]


async def settled(client: httpx.AsyncClient, doc_id: str) -> dict[str, Any]:
    """The document once it is ``processed`` or ``failed`` (polled, deadline scaled)."""
    deadline = asyncio.get_running_loop().time() + PROCESS_S * slowness()
    while True:
        response = await client.get(f"/v1/documents/{doc_id}")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        if document["status"] in ("processed", "failed"):
            return document
        assert asyncio.get_running_loop().time() < deadline, document
        await asyncio.sleep(0.2)


async def failed_with_reason(client: httpx.AsyncClient, doc_id: str) -> str:
    """The reason a document failed (it must fail, and say why)."""
    document = await settled(client, doc_id)
    assert document["status"] == "failed", document
    reason: str = document.get("error") or ""
    assert reason, document
    return reason

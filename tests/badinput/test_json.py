"""JSON that is too big, too deep, not UTF-8, or full of NULs and ``..``: a 4xx or a document
that is stored as data, while the default tenant's probe keeps answering within 1 s."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.support.probe import Probe
from tests.support.upstack import Stack

from .documents import error_of, settled

MB = 1024 * 1024
DEEP = 100_000


async def test_a_50_mb_json_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    text = "x" * (50 * MB)
    body = b'{"documents": [{"text": "' + text.encode() + b'"}]}'
    response = await client.post(
        "/v1/documents/text", content=body, headers={"content-type": "application/json"}
    )
    error_of(response, 413, "payload_too_large")


async def _chunks(size: int) -> AsyncIterator[bytes]:
    yield b'{"query": "'
    for _ in range(size // MB):
        yield b"x" * MB
    yield b'"}'


async def test_a_50_mb_chunked_query_is_cut_off_at_the_cap(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    # No Content-Length: the server reads up to its 1 MB cap, then refuses.
    try:
        response = await client.post("/v1/query", content=_chunks(50 * MB))
    except httpx.WriteError:
        return  # the server answered and closed while the client was still sending
    error_of(response, 413, "payload_too_large")


async def test_json_nested_100000_deep_is_a_400_on_every_json_endpoint(
    stack: Stack, client: httpx.AsyncClient, probe: Probe
) -> None:
    deep = b"[" * DEEP + b"]" * DEEP
    wrapped = b'{"documents": [{"text": "t", "metadata": {"a": ' + deep + b"}}]}"
    json = {"content-type": "application/json"}
    for path, body in [("/v1/documents/text", wrapped), ("/v1/query", deep)]:
        response = await client.post(path, content=body, headers=json)
        error = error_of(response, 400, "bad_request")
        assert "deep" in error["message"], error
    admin = {**json, "authorization": f"Bearer {stack.admin_token}"}
    response = await client.post("/v1/tenants", content=deep, headers=admin)
    error_of(response, 400, "bad_request")


async def test_invalid_utf8_in_a_json_body_is_a_400(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    body = b'{"documents": [{"text": "caf\xe9 \xff\xfe"}]}'
    response = await client.post(
        "/v1/documents/text", content=body, headers={"content-type": "application/json"}
    )
    error_of(response, 400, "bad_request")


async def test_nul_bytes_and_dot_dots_in_names_and_metadata_are_kept_as_data(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    item = {
        "text": "a text with a NUL \u0000 inside and ../../etc/passwd in it",
        "name": "../../etc/pass\u0000wd.txt",
        "metadata": {"../k\u0000ey": "..\u0000/v", "path": "../../../root"},
    }
    response = await client.post("/v1/documents/text", json={"documents": [item]})
    assert response.status_code == 202, response.text
    document = response.json()["documents"][0]
    assert document["name"] == "passwd.txt", document  # the last segment, no control chars
    done = await settled(client, document["doc_id"])
    assert done["status"] == "processed", done

"""Malformed and truncated multipart bodies: a 400 (or 422) in the contract's format, while
the default tenant's probe keeps answering within 1 s."""

from __future__ import annotations

import httpx
import pytest

from tests.support.probe import Probe

from .documents import error_of, failed_with_reason, settled

BOUNDARY = "b0undary"
FORM = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def _part(disposition: bytes, data: bytes, headers: bytes = b"") -> bytes:
    head = b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; " + disposition
    return head + b"\r\n" + headers + b"\r\n" + data + b"\r\n"


END = b"--" + BOUNDARY.encode() + b"--\r\n"
FILE = _part(b'name="files"; filename="a.txt"', b"hello there")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b"this is not multipart at all", FORM, id="garbage"),
        pytest.param(FILE, FORM, id="no-closing-boundary"),
        pytest.param(FILE[: len(FILE) // 2], FORM, id="truncated-in-a-part"),
        pytest.param(b"--" + BOUNDARY.encode() + b"\r\nContent-Dispo", FORM, id="truncated-head"),
        pytest.param(FILE + END, {"content-type": "multipart/form-data"}, id="no-boundary"),
        pytest.param(FILE + END, {"content-type": "application/json"}, id="not-multipart"),
        pytest.param(b"", FORM, id="empty-body"),
    ],
)
async def test_a_malformed_multipart_body_is_a_400(
    client: httpx.AsyncClient, probe: Probe, body: bytes, headers: dict[str, str]
) -> None:
    response = await client.post("/v1/documents", content=body, headers=headers)
    error_of(response, 400, "bad_request")


async def test_a_part_that_is_not_a_file_nor_metadata_is_a_422(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    body = FILE + _part(b'name="other"', b"x") + END
    response = await client.post("/v1/documents", content=body, headers=FORM)
    error_of(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b'{"a": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100000-deep"),
    ],
)
async def test_bad_metadata_is_a_4xx(
    client: httpx.AsyncClient, probe: Probe, metadata: bytes
) -> None:
    body = FILE + _part(b'name="metadata"', metadata) + END
    response = await client.post("/v1/documents", content=body, headers=FORM)
    assert response.status_code in (400, 413, 422), response.text
    error_of(response, response.status_code, response.json()["error"]["code"])


async def test_nul_bytes_and_dot_dots_in_a_file_name_are_data(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    # Raw bytes in the part's header: no client library would send them.
    disposition = b'name="files"; filename="../../../etc/pa\x00ss\x01wd.txt"'
    metadata = _part(b'name="metadata"', b'{"../x": "..\\u0000/y"}')
    body = _part(disposition, b"a file with a strange name") + metadata + END
    response = await client.post("/v1/documents", content=body, headers=FORM)
    assert response.status_code == 202, response.text
    document = response.json()["documents"][0]
    assert document["name"] == "passwd.txt", document
    assert (await settled(client, document["doc_id"]))["status"] == "processed"


async def test_an_empty_file_is_a_422_and_a_1_byte_file_is_processed_or_failed_with_reason(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    response = await client.post("/v1/documents", files={"files": ("empty.txt", b"")})
    error = error_of(response, 422, "validation_failed")
    assert "empty" in error["message"], error
    response = await client.post("/v1/documents", files={"files": ("one.bin", b"\x00")})
    if response.status_code == 415:
        return  # a lone NUL byte sniffs as nothing accepted: a clear 4xx
    assert response.status_code == 202, response.text
    document = response.json()["documents"][0]
    done = await settled(client, document["doc_id"])
    if done["status"] == "failed":
        assert await failed_with_reason(client, document["doc_id"])
    response = await client.post("/v1/documents", files={"files": ("one.txt", b"a")})
    assert response.status_code == 202, response.text
    document = response.json()["documents"][0]
    done = await settled(client, document["doc_id"])
    assert done["status"] == "processed" or done.get("error"), done

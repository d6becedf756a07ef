"""The HTTP side of ingest: uploads, texts, limits, listing, tenants kept apart."""

from __future__ import annotations

import hashlib
import json
import os
import zlib

from redis.asyncio import Redis

from ragapi_common.bus import Bus
from tests.conftest import TenantFactory

from .conftest import StackFactory

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + os.urandom(4000)


def png_bytes() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_upload_answers_202_with_records(
    make_ingest: StackFactory, tenant_factory: TenantFactory, redis: Redis, bus: Bus
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    content = b"Ada Lovelace wrote the first program.\n"
    response = await stack.upload(
        tenant, [("notes.md", content)], metadata=json.dumps({"source": "test"})
    )
    assert response.status_code == 202, response.text
    body = response.json()
    (doc,) = body["documents"]
    assert body["task_id"].startswith("task_")
    assert doc["name"] == "notes.md"
    assert doc["content_type"] == "text/markdown"
    assert doc["size"] == len(content)
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert doc["status"] == "queued"
    assert doc["duplicate"] is False
    assert doc["metadata"] == {"source": "test"}
    assert len(doc["doc_id"]) > 30  # unguessable
    stored = await bus.files.read_bytes(f"{tenant.id}/{doc['doc_id']}")
    assert stored == content
    got = await stack.client.get(f"/v1/documents/{doc['doc_id']}", headers=tenant.headers)
    assert got.status_code == 200
    assert got.json()["sha256"] == doc["sha256"]
    task = await stack.client.get(f"/v1/tasks/{body['task_id']}", headers=tenant.headers)
    assert task.json()["status"] == "queued"
    assert task.json()["total"] == 1
    metrics = (await stack.client.get("/metrics")).text
    assert f"ragapi_ingest_upload_bytes_total {float(len(content))}" in metrics


async def test_openapi_lists_the_contract(make_ingest: StackFactory) -> None:
    stack = await make_ingest(workers=False)
    paths = (await stack.client.get("/openapi.json")).json()["paths"]
    assert set(paths["/v1/documents"]) == {"get", "post"}
    assert "multipart/form-data" in paths["/v1/documents"]["post"]["requestBody"]["content"]
    assert set(paths["/v1/documents/{doc_id}"]) == {"get", "delete"}
    assert "/v1/documents/text" in paths
    assert "/v1/tasks/{task_id}/events" in paths


async def test_duplicate_upload_answers_the_existing_document(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    first = (await stack.upload(tenant, [("a.txt", b"same bytes here")])).json()
    again = await stack.upload(tenant, [("b.txt", b"same bytes here")])
    assert again.status_code == 202
    (doc,) = again.json()["documents"]
    assert doc["doc_id"] == first["documents"][0]["doc_id"]
    assert doc["duplicate"] is True
    listed = (await stack.client.get("/v1/documents", headers=tenant.headers)).json()
    assert len(listed["documents"]) == 1
    # Twice in one request: one document.
    both = await stack.upload(tenant, [("c.txt", b"other bytes"), ("d.txt", b"other bytes")])
    ids = {doc["doc_id"] for doc in both.json()["documents"]}
    assert len(ids) == 1


async def test_two_tenants_with_the_same_file_see_only_their_own(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    alice, bob = await tenant_factory(), await tenant_factory()
    a = (await stack.upload(alice, [("same.txt", b"shared content")])).json()
    b = (await stack.upload(bob, [("same.txt", b"shared content")])).json()
    a_doc, b_doc = a["documents"][0], b["documents"][0]
    assert a_doc["doc_id"] != b_doc["doc_id"]
    assert b_doc["duplicate"] is False
    for tenant, mine, theirs, task in ((alice, a_doc, b_doc, b), (bob, b_doc, a_doc, a)):
        listed = (await stack.client.get("/v1/documents", headers=tenant.headers)).json()
        assert [d["doc_id"] for d in listed["documents"]] == [mine["doc_id"]]
        other = await stack.client.get(f"/v1/documents/{theirs['doc_id']}", headers=tenant.headers)
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "not_found"
        other_task = await stack.client.get(f"/v1/tasks/{task['task_id']}", headers=tenant.headers)
        assert other_task.status_code == 404
        deleted = await stack.client.delete(
            f"/v1/documents/{theirs['doc_id']}", headers=tenant.headers
        )
        assert deleted.status_code == 404


async def test_type_is_sniffed_from_the_bytes_not_the_name(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    for name, content in (("report.pdf", ELF), ("notes.txt", os.urandom(20000))):
        response = await stack.upload(tenant, [(name, content)])
        assert response.status_code == 415, response.text
        assert response.json()["error"]["code"] == "unsupported_media_type"
    response = await stack.upload(tenant, [("notes.txt", png_bytes())])
    assert response.status_code == 202
    assert response.json()["documents"][0]["content_type"] == "image/png"
    response = await stack.upload(
        tenant, [("photo.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")]
    )
    assert response.json()["documents"][0]["content_type"] == "application/pdf"
    # One unreadable file refuses the whole request: nothing is stored.
    mixed = await stack.upload(tenant, [("ok.txt", b"fine text"), ("bad.bin", ELF)])
    assert mixed.status_code == 415
    assert mixed.json()["error"]["details"][0]["name"] == "bad.bin"
    listed = (await stack.client.get("/v1/documents", headers=tenant.headers)).json()
    assert "ok.txt" not in {d["name"] for d in listed["documents"]}


async def test_filenames_are_data_never_paths(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False, max_filename_chars=64)
    tenant = await tenant_factory()
    cases = {
        "../../etc/passwd": "passwd",
        "..\\..\\windows\\win.ini": "win.ini",
        "/abs/path/x.txt": "x.txt",
        "we\x00ird\x1fname.txt": "weirdname.txt",
        "😀 résumé 文件 Ω.md": "😀 résumé 文件 Ω.md",
        "\u202etxt.exe": "txt.exe",
        "..": "upload",
        "a" * 200 + ".txt": "a" * 60 + ".txt",
    }
    headers = {**tenant.headers, "content-type": "multipart/form-data; boundary=b0undary"}
    for index, (raw, expected) in enumerate(cases.items()):
        # Raw bytes in the header, as a client that does not percent-encode sends them.
        disposition = f'form-data; name="files"; filename="{raw}"'.encode()
        body = (
            b"--b0undary\r\nContent-Disposition: "
            + disposition
            + b"\r\n\r\n"
            + f"content number {index}".encode()
            + b"\r\n--b0undary--\r\n"
        )
        response = await stack.client.post("/v1/documents", content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["documents"][0]["name"] == expected, raw


async def test_malformed_or_empty_multipart(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    headers = {**tenant.headers, "content-type": "multipart/form-data; boundary=xyz"}
    broken = await stack.client.post(
        "/v1/documents", content=b"--xyz\r\nnot a header", headers=headers
    )
    assert broken.status_code == 400
    not_multipart = await stack.client.post("/v1/documents", json={"a": 1}, headers=tenant.headers)
    assert not_multipart.status_code == 400
    no_files = await stack.client.post(
        "/v1/documents", data={"x": "1"}, files={}, headers=tenant.headers
    )
    assert no_files.status_code in (400, 422)
    only_field = await stack.client.post(
        "/v1/documents",
        content=b'--xyz\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--xyz--\r\n',
        headers=headers,
    )
    assert only_field.status_code == 422
    bad_metadata = await stack.upload(tenant, [("a.txt", b"text")], metadata="{not json")
    assert bad_metadata.status_code == 400
    empty = await stack.upload(tenant, [("a.txt", b"")])
    assert empty.status_code == 422
    unauthenticated = await stack.client.post("/v1/documents", files=[("files", ("a", b"x"))])
    assert unauthenticated.status_code == 401


async def test_two_hundred_texts_in_one_request(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    # No LLM (chunks and vectors only) keeps 200 inserts quick.
    stack = await make_ingest(llm_base_url="", llm_model="")
    tenant = await tenant_factory()
    docs = {f"note-{i}.txt": f"Note {i}: the number {i} is written here." for i in range(200)}
    body = await stack.texts(tenant, docs)
    assert len(body["documents"]) == 200
    assert {d["name"] for d in body["documents"]} == set(docs)
    task = await stack.wait_task(tenant, body["task_id"], timeout_s=280)
    assert (task["status"], task["total"], task["done"]) == ("succeeded", 200, 200)
    assert all(doc["llm"] is False for doc in task["documents"])


async def test_text_limits(make_ingest: StackFactory, tenant_factory: TenantFactory) -> None:
    stack = await make_ingest(workers=False, max_text_bytes=1000, max_text_request_bytes=20_000)
    tenant = await tenant_factory()
    too_long = await stack.client.post(
        "/v1/documents/text", json={"documents": [{"text": "x" * 1001}]}, headers=tenant.headers
    )
    assert too_long.status_code == 413
    assert too_long.json()["error"]["details"][0]["field"] == "documents.0.text"
    too_many = {"documents": [{"text": "y" * 900} for _ in range(30)]}
    response = await stack.client.post("/v1/documents/text", json=too_many, headers=tenant.headers)
    assert response.status_code == 413
    invalid = await stack.client.post(
        "/v1/documents/text", json={"documents": [{"name": "x"}]}, headers=tenant.headers
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"][0]["field"] == "documents.0.text"
    not_json = await stack.client.post(
        "/v1/documents/text",
        content=b"{",
        headers={**tenant.headers, "content-type": "application/json"},
    )
    assert not_json.status_code == 400


async def test_listing_pages_and_filters(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    docs = {f"n{i}.txt": f"text number {i}" for i in range(7)}
    await stack.texts(tenant, docs)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (
            await stack.client.get("/v1/documents", params=params, headers=tenant.headers)
        ).json()
        seen += [d["doc_id"] for d in page["documents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    queued = await stack.client.get(
        "/v1/documents", params={"status": "queued"}, headers=tenant.headers
    )
    assert len(queued.json()["documents"]) == 7
    processed = await stack.client.get(
        "/v1/documents", params={"status": "processed"}, headers=tenant.headers
    )
    assert processed.json()["documents"] == []
    for params in ({"status": "nope"}, {"limit": "0"}, {"limit": "501"}, {"cursor": "zz"}):
        bad = await stack.client.get("/v1/documents", params=params, headers=tenant.headers)
        assert bad.status_code == 422, params


async def test_a_tenant_document_limit_is_kept(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory(config={"limits": {"max_documents": 2}})
    await stack.texts(tenant, {"a.txt": "first", "b.txt": "second"})
    over = await stack.client.post(
        "/v1/documents/text", json={"documents": [{"text": "third"}]}, headers=tenant.headers
    )
    assert over.status_code == 422
    assert over.json()["error"]["details"][0]["field"] == "limits.max_documents"

"""What ingest reads as JSON: texts capped by the tenant's upload limit, nesting refused (the
text body and the upload's metadata part)."""

from __future__ import annotations

from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle

from .conftest import IngestStack, StackFactory

DEEP = b"[" * 30_000 + b"]" * 30_000


async def stored(stack: IngestStack, tenant: TenantHandle) -> list[object]:
    """The tenant's documents, as listed."""
    response = await stack.client.get("/v1/documents", headers=tenant.headers)
    assert response.status_code == 200, response.text
    documents: list[object] = response.json()["documents"]
    return documents


async def test_texts_are_capped_by_the_tenants_upload_limit(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory(config={"limits": {"max_upload_bytes": 5000}})
    body = {"documents": [{"text": "z" * 900} for _ in range(8)]}  # each text is small
    response = await stack.client.post("/v1/documents/text", json=body, headers=tenant.headers)
    assert response.status_code == 413, response.text
    assert await stored(stack, tenant) == []
    fits = {"documents": [{"text": "z" * 900} for _ in range(4)]}
    response = await stack.client.post("/v1/documents/text", json=fits, headers=tenant.headers)
    assert response.status_code == 202, response.text


async def test_deeply_nested_json_is_a_400(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    headers = {**tenant.headers, "content-type": "application/json"}
    text = b'{"documents": [{"text": "x", "metadata": {"a": ' + DEEP + b"}}]}"
    response = await stack.client.post("/v1/documents/text", content=text, headers=headers)
    assert response.status_code == 400, response.text
    assert "deep" in response.json()["error"]["message"]
    upload = await stack.upload(tenant, [("a.txt", b"hello")], metadata=DEEP.decode())
    assert upload.status_code == 400, upload.text
    assert "metadata" in upload.json()["error"]["message"]
    assert await stored(stack, tenant) == []

"""An upload has ``files`` parts and at most one ``metadata`` part: any other part is refused
with a 422 naming it, and nothing of that request is stored."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TenantFactory

from .conftest import StackFactory
from .test_bodies import stored


@pytest.mark.parametrize(
    "parts",
    [
        [("document", ("a.txt", b"stray file"))],
        [("files", ("a.txt", b"a file")), ("attachment", ("b.txt", b"stray file"))],
        [("file", ("a.txt", b"singular"))],
        [("files", ("a.txt", b"a file")), ("note", (None, b"a stray field"))],
    ],
)
async def test_only_files_and_metadata_parts_are_accepted(
    make_ingest: StackFactory,
    tenant_factory: TenantFactory,
    parts: list[tuple[str, tuple[str | None, bytes]]],
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    response = await stack.client.post("/v1/documents", files=parts, headers=tenant.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    stray = next(name for name, _ in parts if name != "files")
    assert error["details"][0]["field"] == stray
    assert "'files'" in error["message"]
    assert "'metadata'" in error["message"]
    assert await stored(stack, tenant) == []


async def test_files_with_metadata_still_work(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest(workers=False)
    tenant = await tenant_factory()
    metadata = json.dumps({"source": "scan", "tags": ["a", "b"]})
    response = await stack.upload(tenant, [("a.txt", b"hello")], metadata=metadata)
    assert response.status_code == 202, response.text
    assert response.json()["documents"][0]["metadata"] == {"source": "scan", "tags": ["a", "b"]}

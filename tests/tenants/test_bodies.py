"""Bodies of the tenants API: capped, nesting refused with a 400, fields not coerced."""

from __future__ import annotations

import httpx
import pytest

DEEP = b"[" * 100_000 + b"]" * 100_000


async def test_deep_nesting_is_a_400_not_a_crash(tenants_client: httpx.AsyncClient) -> None:
    body = b'{"id": "deep", "config": {"llm": ' + DEEP + b"}}"
    created = await tenants_client.post("/v1/tenants", content=body)
    assert created.status_code == 400, created.text
    assert "deep" in created.json()["error"]["message"]
    await tenants_client.post("/v1/tenants", json={"id": "flat"})
    patched = await tenants_client.patch("/v1/tenants/flat", content=b'{"config": ' + DEEP + b"}")
    assert patched.status_code == 400, patched.text


async def test_a_body_over_the_cap_is_413(tenants_client: httpx.AsyncClient) -> None:
    response = await tenants_client.post(
        "/v1/tenants", json={"id": "big", "name": "n", "config": {"x": "y" * 300 * 1024}}
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert (await tenants_client.get("/v1/tenants/big")).status_code == 404


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"limits": {"max_upload_bytes": "1000"}}, "config.limits.max_upload_bytes"),
        ({"llm": {"timeout_s": "30"}}, "config.llm.timeout_s"),
        ({"embedding": {"dim": 64.0}}, "config.embedding.dim"),
    ],
)
async def test_config_fields_are_not_coerced(
    tenants_client: httpx.AsyncClient, config: dict[str, object], field: str
) -> None:
    created = await tenants_client.post("/v1/tenants", json={"id": "strict", "config": config})
    assert created.status_code == 422, created.text
    assert [d["field"] for d in created.json()["error"]["details"]] == [field]
    await tenants_client.post("/v1/tenants", json={"id": "patched"})
    patched = await tenants_client.patch("/v1/tenants/patched", json={"config": config})
    assert patched.status_code == 422, patched.text
    assert [d["field"] for d in patched.json()["error"]["details"]] == [field]

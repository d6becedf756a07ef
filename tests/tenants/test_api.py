"""The tenants section of the contract, over HTTP against real NATS and Redis."""

from __future__ import annotations

import json

import httpx
import pytest
from redis.asyncio import Redis

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import ResolveKeyRequest, TenantContext, TenantLookupRequest
from ragapi_common.errors import NotFound, Unauthorized
from ragapi_common.secrets import SecretBox, hash_api_key
from tests.support.apps import SECRET_KEY

LLM = {"base_url": "http://llm.local/v1", "model": "m1", "api_key": "sk-live-123456789abcd"}


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str)
    return str(body["error"]["code"])


async def test_create_get_list_delete(tenants_client: httpx.AsyncClient) -> None:
    created = await tenants_client.post("/v1/tenants", json={"id": "acme", "name": "Acme"})
    assert created.status_code == 201
    body = created.json()
    assert body["tenant"]["id"] == "acme"
    assert body["tenant"]["name"] == "Acme"
    assert body["tenant"]["created_at"].endswith("Z")
    assert body["api_key"].startswith("rk_")

    got = await tenants_client.get("/v1/tenants/acme")
    assert got.status_code == 200
    assert got.json() == body["tenant"]
    listed = await tenants_client.get("/v1/tenants")
    assert [t["id"] for t in listed.json()["tenants"]] == ["acme"]

    deleted = await tenants_client.delete("/v1/tenants/acme")
    assert deleted.status_code == 202
    assert (await tenants_client.get("/v1/tenants/acme")).status_code == 404
    assert (await tenants_client.get("/v1/tenants")).json() == {"tenants": []}


async def test_taken_id_is_409(tenants_client: httpx.AsyncClient) -> None:
    assert (await tenants_client.post("/v1/tenants", json={"id": "dup"})).status_code == 201
    again = await tenants_client.post("/v1/tenants", json={"id": "dup"})
    assert again.status_code == 409
    assert error_code(again) == "conflict"


@pytest.mark.parametrize("tenant_id", ["A", "x", "-lead", "has_underscore", "a" * 41, "ünï"])
async def test_invalid_id_is_422(tenants_client: httpx.AsyncClient, tenant_id: str) -> None:
    response = await tenants_client.post("/v1/tenants", json={"id": tenant_id})
    assert response.status_code == 422
    assert error_code(response) == "validation_failed"
    assert response.json()["error"]["details"][0]["field"] == "id"


async def test_invalid_fields_are_each_listed(tenants_client: httpx.AsyncClient) -> None:
    body = {"id": "ok-id", "config": {"llm": {"max_concurrency": 0}, "query": {"mode": "x"}}}
    response = await tenants_client.post("/v1/tenants", json=body)
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"config.llm.max_concurrency", "config.query.mode"}


async def test_malformed_json_is_400(tenants_client: httpx.AsyncClient) -> None:
    response = await tenants_client.post("/v1/tenants", content=b"{not json")
    assert response.status_code == 400
    assert error_code(response) == "bad_request"


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc", "Bearer "])
async def test_admin_token_required(tenants_client: httpx.AsyncClient, auth: str | None) -> None:
    headers = {"authorization": auth} if auth is not None else {}
    client = httpx.AsyncClient(transport=tenants_client._transport, base_url="http://testserver")
    async with client:
        response = await client.get("/v1/tenants", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"


async def test_unknown_ids_are_404(tenants_client: httpx.AsyncClient) -> None:
    await tenants_client.post("/v1/tenants", json={"id": "real"})
    for method, path in [
        ("GET", "/v1/tenants/ghost"),
        ("PATCH", "/v1/tenants/ghost"),
        ("DELETE", "/v1/tenants/ghost"),
        ("POST", "/v1/tenants/ghost/keys"),
        ("GET", "/v1/tenants/ghost/keys"),
        ("DELETE", "/v1/tenants/real/keys/key_nothere"),
    ]:
        response = await tenants_client.request(method, path, json={"name": "x"})
        assert response.status_code == 404, (method, path)
        assert error_code(response) == "not_found"


async def test_patch_deep_merges(tenants_client: httpx.AsyncClient) -> None:
    config = {"llm": LLM, "query": {"mode": "naive", "top_k": 5}}
    await tenants_client.post("/v1/tenants", json={"id": "merge", "config": config})
    patch = {"name": "Merged", "config": {"llm": {"model": "m2"}, "query": {"top_k": None}}}
    response = await tenants_client.patch("/v1/tenants/merge", json=patch)
    assert response.status_code == 200
    tenant = response.json()
    assert tenant["name"] == "Merged"
    assert tenant["config"]["llm"]["model"] == "m2"
    assert tenant["config"]["llm"]["base_url"] == LLM["base_url"]
    assert tenant["config"]["llm"]["api_key"] == "sk-...abcd"
    assert tenant["config"]["query"] == {"mode": "naive"}
    bad = await tenants_client.patch("/v1/tenants/merge", json={"config": {"limits": {"x": 1}}})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "config.limits.x"


async def test_secrets_encrypted_at_rest_and_masked(
    tenants_client: httpx.AsyncClient, redis: Redis, bus: Bus
) -> None:
    created = await tenants_client.post("/v1/tenants", json={"id": "sec", "config": {"llm": LLM}})
    assert created.json()["tenant"]["config"]["llm"]["api_key"] == "sk-...abcd"
    dump = b"".join([await redis.dump(key) or b"" for key in await redis.keys("*")])
    assert LLM["api_key"].encode() not in dump
    stored = json.loads(await redis.get("ragapi:tenant:sec"))
    assert stored["config"]["llm"]["api_key"].startswith("enc:")
    # Services on the bus get the secret still encrypted, apart from the config; a masked
    # value sent back keeps it.
    await tenants_client.patch(
        "/v1/tenants/sec", json={"config": {"llm": {"api_key": "sk-...abcd"}}}
    )
    ctx = await bus.request(
        subjects.TENANTS_GET, TenantLookupRequest(tenant_id="sec"), TenantContext
    )
    assert ctx.config.llm is not None
    assert ctx.config.llm.api_key is None
    assert ctx.sealed == {"llm": stored["config"]["llm"]["api_key"]}
    assert SecretBox(SECRET_KEY).decrypt(ctx.sealed["llm"]) == LLM["api_key"]


async def test_keys_are_stored_only_as_hashes(
    tenants_client: httpx.AsyncClient, redis: Redis, bus: Bus
) -> None:
    first = (await tenants_client.post("/v1/tenants", json={"id": "keys"})).json()["api_key"]
    second = await tenants_client.post("/v1/tenants/keys/keys")
    assert second.status_code == 201
    key_id, api_key = second.json()["key_id"], second.json()["api_key"]
    everything = b"".join([await redis.dump(key) or b"" for key in await redis.keys("*")])
    for key in (first, api_key):
        assert key.encode() not in everything
        assert await redis.exists(f"ragapi:apikey:{hash_api_key(key)}")
    listed = (await tenants_client.get("/v1/tenants/keys/keys")).json()["keys"]
    assert {k["key_id"] for k in listed} >= {key_id}
    assert all(set(k) == {"key_id", "created_at"} for k in listed)

    ctx = await bus.request(
        subjects.TENANTS_RESOLVE, ResolveKeyRequest(key_hash=hash_api_key(api_key)), TenantContext
    )
    assert (ctx.tenant_id, ctx.key_id) == ("keys", key_id)
    assert (await tenants_client.delete(f"/v1/tenants/keys/keys/{key_id}")).status_code == 204
    with pytest.raises(Unauthorized):
        await bus.request(
            subjects.TENANTS_RESOLVE,
            ResolveKeyRequest(key_hash=hash_api_key(api_key)),
            TenantContext,
        )
    # The first key still works.
    await bus.request(
        subjects.TENANTS_RESOLVE, ResolveKeyRequest(key_hash=hash_api_key(first)), TenantContext
    )


async def test_other_tenants_key_id_is_404(tenants_client: httpx.AsyncClient) -> None:
    await tenants_client.post("/v1/tenants", json={"id": "one"})
    await tenants_client.post("/v1/tenants", json={"id": "two"})
    key_id = (await tenants_client.post("/v1/tenants/two/keys")).json()["key_id"]
    response = await tenants_client.delete(f"/v1/tenants/one/keys/{key_id}")
    assert response.status_code == 404


async def test_delete_tenant_revokes_keys_and_queues_purge(
    tenants_client: httpx.AsyncClient, bus: Bus
) -> None:
    api_key = (await tenants_client.post("/v1/tenants", json={"id": "gone"})).json()["api_key"]
    await tenants_client.delete("/v1/tenants/gone")
    with pytest.raises(Unauthorized):
        await bus.request(
            subjects.TENANTS_RESOLVE,
            ResolveKeyRequest(key_hash=hash_api_key(api_key)),
            TenantContext,
        )
    with pytest.raises(NotFound):
        await bus.request(
            subjects.TENANTS_GET, TenantLookupRequest(tenant_id="gone"), TenantContext
        )
    info = await bus.js.stream_info(subjects.JOBS_STREAM, subjects_filter=subjects.JOB_PURGE)
    assert (info.state.subjects or {}).get(subjects.JOB_PURGE, 0) >= 1


async def test_openapi_lists_every_tenant_path(tenants_client: httpx.AsyncClient) -> None:
    doc = (await tenants_client.get("/openapi.json")).json()
    assert set(doc["paths"]) == {
        "/v1/tenants",
        "/v1/tenants/{tenant_id}",
        "/v1/tenants/{tenant_id}/keys",
        "/v1/tenants/{tenant_id}/keys/{key_id}",
    }
    assert doc["paths"]["/v1/tenants"]["post"]["responses"]["409"]

"""Files that cannot be read answer a clear 4xx in the contract's format; service goes on."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TenantFactory
from tests.ocr import documents as docs


@pytest.mark.parametrize(
    ("data", "status", "code", "says"),
    [
        pytest.param(docs.corrupt_pdf(), 422, "validation_failed", "damaged", id="corrupt-pdf"),
        pytest.param(
            docs.encrypted_pdf(), 422, "validation_failed", "encrypted", id="encrypted-pdf"
        ),
        pytest.param(docs.huge_png(), 413, "payload_too_large", "30000x30000", id="huge-png"),
        pytest.param(b"", 400, "bad_request", "empty", id="zero-bytes"),
        pytest.param(
            b"just some words, no document", 415, "unsupported_media_type", "not a PDF", id="text"
        ),
        pytest.param(
            b"PK\x03\x04 broken zip", 422, "validation_failed", "damaged", id="broken-zip"
        ),
    ],
)
async def test_unreadable_file_answers_clear_error(
    ocr: httpx.AsyncClient,
    tenant_factory: TenantFactory,
    data: bytes,
    status: int,
    code: str,
    says: str,
) -> None:
    tenant = await tenant_factory()
    response = await ocr.post("/v1/ocr", headers=tenant.headers, files={"file": ("f.pdf", data)})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert says in error["message"]
    assert error["details"][0]["field"] == "file"
    # The service keeps serving.
    good, _ = docs.text_pdf(pages=1)
    again = await ocr.post("/v1/ocr", headers=tenant.headers, files={"file": ("ok.pdf", good)})
    assert again.status_code == 200


async def test_too_many_pages(ocr: httpx.AsyncClient, tenant_factory: TenantFactory) -> None:
    tenant = await tenant_factory()
    data, _ = docs.text_pdf(pages=501)
    response = await ocr.post("/v1/ocr", headers=tenant.headers, files={"file": ("big.pdf", data)})
    assert response.status_code == 413
    assert "501 pages" in response.json()["error"]["message"]


async def test_upload_over_tenant_limit_is_413(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory(config={"limits": {"max_upload_bytes": 1000}})
    data, _ = docs.text_pdf(pages=3)
    assert len(data) > 1000
    response = await ocr.post("/v1/ocr", headers=tenant.headers, files={"file": ("big.pdf", data)})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_requests_need_a_tenant_key(
    ocr: httpx.AsyncClient, tenant_factory: TenantFactory
) -> None:
    await tenant_factory()
    data, _ = docs.text_pdf(pages=1)
    missing = await ocr.post("/v1/ocr", files={"file": ("a.pdf", data)})
    wrong = await ocr.post(
        "/v1/ocr", headers={"authorization": "Bearer nope"}, files={"file": ("a.pdf", data)}
    )
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"


async def test_bad_form_fields(ocr: httpx.AsyncClient, tenant_factory: TenantFactory) -> None:
    tenant = await tenant_factory()
    data, _ = docs.text_pdf(pages=1)
    no_file = await ocr.post("/v1/ocr", headers=tenant.headers, data={"engine": "local"})
    assert no_file.status_code == 400
    bad_engine = await ocr.post(
        "/v1/ocr", headers=tenant.headers, files={"file": ("a.pdf", data)}, data={"engine": "magic"}
    )
    assert bad_engine.status_code == 422
    assert bad_engine.json()["error"]["details"][0]["field"] == "engine"
    unconfigured = await ocr.post(
        "/v1/ocr",
        headers=tenant.headers,
        files={"file": ("a.pdf", data)},
        data={"engine": "deepseek"},
    )
    assert unconfigured.status_code == 422
    assert "base_url" in unconfigured.json()["error"]["message"]
    not_json = await ocr.post("/v1/ocr", headers=tenant.headers, content=b"{}")
    assert not_json.status_code == 400

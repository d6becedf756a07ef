"""A tenant's effective settings: its config first, then the deployment's; its provider keys
arrive sealed and are opened here only."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ragapi_common.contracts.payloads import TenantContext
from ragapi_common.contracts.tenant import TenantConfig
from ragapi_common.errors import RagapiError
from ragapi_common.secrets import SecretBox
from ragapi_common.settings import CommonSettings
from ragapi_common.tenancy import resolve


def tenant(
    config: dict[str, Any] | None = None, sealed: dict[str, str] | None = None
) -> TenantContext:
    return TenantContext(
        tenant_id="acme",
        name="Acme",
        config=TenantConfig.model_validate(config or {}),
        sealed=sealed or {},
    )


def test_llm_budgets_are_off_unless_the_deployment_or_the_tenant_sets_them() -> None:
    unset = resolve(CommonSettings(), tenant()).llm_limits
    assert (unset.requests_per_minute, unset.tokens_per_minute) == (0, 0)

    deployment = CommonSettings(llm_requests_per_minute=300, llm_tokens_per_minute=90_000)
    defaults = resolve(deployment, tenant()).llm_limits
    assert (defaults.requests_per_minute, defaults.tokens_per_minute) == (300, 90_000)

    own = resolve(deployment, tenant({"llm": {"tokens_per_minute": 5_000}})).llm_limits
    assert (own.requests_per_minute, own.tokens_per_minute) == (300, 5_000)


def test_sealed_keys_are_opened_with_the_secret_key_and_never_shown() -> None:
    settings = CommonSettings(secret_key="the-secret-key", embedding_api_key="sk-deployment")
    box = SecretBox("the-secret-key")
    sealed = {"llm": box.encrypt("sk-tenant-llm"), "ocr": box.encrypt("sk-tenant-ocr")}
    effective = resolve(settings, tenant({"llm": {"model": "m"}}, sealed))
    assert effective.llm.api_key == "sk-tenant-llm"
    assert effective.ocr.api_key == "sk-tenant-ocr"
    assert effective.embedding.api_key == "sk-deployment"  # unset by the tenant
    assert "sk-tenant" not in repr(effective)


def test_sealed_keys_need_the_right_secret_key() -> None:
    sealed = {"llm": SecretBox("the-secret-key").encrypt("sk-tenant-llm")}
    with pytest.raises(RagapiError, match="RAGAPI_SECRET_KEY is not set"):
        resolve(CommonSettings(), tenant(sealed=sealed))
    with pytest.raises(RagapiError, match="wrong RAGAPI_SECRET_KEY"):
        resolve(CommonSettings(secret_key="another"), tenant(sealed=sealed))


def test_a_context_refuses_a_key_in_clear() -> None:
    with pytest.raises(ValidationError, match="must travel sealed"):
        tenant({"rerank": {"api_key": "sk-clear"}})

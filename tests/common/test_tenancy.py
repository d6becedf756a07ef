"""A tenant's effective limits: its config first, then the deployment's settings."""

from __future__ import annotations

from ragapi_common.contracts.tenant import TenantConfig
from ragapi_common.settings import CommonSettings
from ragapi_common.tenancy import resolve


def test_llm_budgets_are_off_unless_the_deployment_or_the_tenant_sets_them() -> None:
    unset = resolve(CommonSettings(), TenantConfig()).llm_limits
    assert (unset.requests_per_minute, unset.tokens_per_minute) == (0, 0)

    deployment = CommonSettings(llm_requests_per_minute=300, llm_tokens_per_minute=90_000)
    defaults = resolve(deployment, TenantConfig()).llm_limits
    assert (defaults.requests_per_minute, defaults.tokens_per_minute) == (300, 90_000)

    config = TenantConfig.model_validate({"llm": {"tokens_per_minute": 5_000}})
    own = resolve(deployment, config).llm_limits
    assert (own.requests_per_minute, own.tokens_per_minute) == (300, 5_000)

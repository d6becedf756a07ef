"""schemathesis over the gateway's merged OpenAPI document of a running ``ragapi up``.

Every operation of every service gets generated valid and invalid requests: none may
answer a 5xx, every answer must carry a status and a body its operation documents.
``RAGAPI_FUZZ_EXAMPLES`` sets the examples per operation (``make fuzz`` runs many more).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ragapi_common.openapi import merge
from ragapi_ingest.routes import openapi as ingest_openapi
from ragapi_ocr.routes import openapi as ocr_openapi
from ragapi_query.openapi_doc import openapi as query_openapi
from ragapi_tenants.routes import openapi as tenants_openapi
from tests.support.upstack import Stack

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("RAGAPI_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: The services' documents merged as the gateway merges them (a test below checks that the
#: gateway serves the same operations): the cases are generated at collection time.
DOCUMENT = merge(
    "ragapi",
    [doc().document() for doc in (tenants_openapi, ingest_openapi, ocr_openapi, query_openapi)],
)
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_gateway_serves_the_document_the_cases_come_from(stack: Stack) -> None:
    served = httpx.get(f"{stack.url}/openapi.json").json()
    assert served["paths"] == DOCUMENT["paths"]


def _headers(stack: Stack, path: str) -> dict[str, str]:
    """The admin token for the tenants API, the default tenant's key elsewhere."""
    token = stack.admin_token if path.startswith("/v1/tenants") else stack.tenant_key
    return {"authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_without_5xx_and_as_documented(case: Any, stack: Stack) -> None:
    case.call_and_validate(
        base_url=stack.url, headers=_headers(stack, case.path), checks=CHECKS, timeout=60
    )

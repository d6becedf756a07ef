"""The LLM (and embedding) endpoint answers 429 with ``Retry-After`` for 30 s during
ingest: calls wait as asked, queries answer 503 with ``Retry-After`` within the request
deadline, the batch's jobs back off and every document is processed once afterwards.

The breaker does not open on 429s (decision 0101, 3: being rate limited says nothing of
the endpoint's health), so each query spends its retries (4 x ``Retry-After``) first.
"""

from __future__ import annotations

import pytest

from tests.support.faults import Row

from .conftest import Stack
from .llm import OUTAGE_S, provider_outage

pytestmark = [pytest.mark.faults, pytest.mark.slow]

#: What the throttled provider asks callers to wait.
RETRY_AFTER_S = 2.0


@pytest.mark.timeout(600)
async def test_llm_endpoint_throttled(stack: Stack, reliability: Row) -> None:
    throttled = f"429 + Retry-After {RETRY_AFTER_S:g} s"
    reliability.fault = f"LLM endpoint answers {throttled} for {OUTAGE_S:g} s during ingest"
    fake = stack.fake

    async def throttle() -> None:
        fake.configure(fail_forever=True, fail_statuses=(429,), retry_after_s=RETRY_AFTER_S)

    async def release() -> None:
        fake.configure(fail_forever=False)

    queries = await provider_outage(stack, reliability, throttle, release)
    print("queries:", queries.seen)
    codes = {code for status, code, _ in queries.seen if status != 200}
    slowest = max(took for _, _, took in queries.seen)
    reliability.notes = (
        f"queries 503 {sorted(codes)} + Retry-After, slowest {slowest:.1f} s; "
        f"{len(queries.seen)} queries"
    )
    stack.observed.assert_clean()

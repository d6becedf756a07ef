"""The LLM (and embedding) endpoint refuses connections for 30 s during ingest: the
breaker opens, queries answer 503 ``circuit_open`` with ``Retry-After`` quickly while it
is open, the batch's jobs back off and every document is processed once after recovery."""

from __future__ import annotations

import pytest

from tests.support.faults import Row
from tests.support.slowness import slowness

from .conftest import Stack
from .llm import OUTAGE_S, provider_outage

pytestmark = [pytest.mark.faults, pytest.mark.slow]

#: A query while the breaker is open fails fast (quiet machine; scaled by slowness()).
OPEN_ANSWER_WITHIN_S = 0.5


@pytest.mark.timeout(600)
async def test_llm_endpoint_down(stack: Stack, reliability: Row) -> None:
    reliability.fault = f"LLM endpoint down (connections refused) for {OUTAGE_S:g} s during ingest"
    queries = await provider_outage(stack, reliability, stack.fake.stop, stack.fake.start)
    print("queries:", queries.seen)
    # The first query spends its retries and meets the breaker opened; the rest fail fast.
    open_ = [took for status, code, took in queries.seen if code == "circuit_open"][1:]
    assert open_, f"the breaker never opened: {queries.seen}"
    assert max(open_) < OPEN_ANSWER_WITHIN_S * slowness(), queries.seen
    reliability.notes = (
        f"first query 503 after {queries.seen[0][2]:.1f} s (its retries), then 503 "
        f"circuit_open + Retry-After in <= {max(open_):.2f} s ({len(open_)} queries)"
    )
    stack.observed.assert_clean()

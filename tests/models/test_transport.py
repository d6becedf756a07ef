"""The retry policy's arithmetic and the ``Retry-After`` forms providers send."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from ragapi_common.models import RetryPolicy
from ragapi_common.models.transport import retry_after_s


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(httpx.Headers(headers)) == expected


def test_retry_after_as_an_http_date() -> None:
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after_s(httpx.Headers({"Retry-After": date}))
    assert wait is not None
    assert 28 <= wait <= 31


def test_backoff_doubles_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5)
    for retry, ceiling in [(0, 1), (1, 2), (2, 4), (3, 5), (8, 5)]:
        delays = [policy.delay(retry, None) for _ in range(50)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_the_providers_wait_wins_up_to_a_cap() -> None:
    policy = RetryPolicy(base_delay_s=1, max_retry_after_s=60)
    assert policy.delay(3, 2.0) == 2.0
    assert policy.delay(0, 600.0) == 60.0
    assert policy.delay(0, -5.0) == 0.0

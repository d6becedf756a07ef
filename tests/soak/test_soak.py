"""The soak's 3-minute version (``make soak`` runs 30): steady mixed load against ``ragapi
up``, no 5xx, and no resource that keeps growing once warm (each sampled metric's slope per
10 000 requests is within noise: see :meth:`benchmarks.soak_stats.Slope.bounded`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.soak import GROWTH_SHARE, report, soak, soak_stack
from tests.support.upstack import Stack

pytestmark = [pytest.mark.soak, pytest.mark.timeout(900)]

SECONDS = 180.0
WARMUP_S = 90.0


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str, Stack]]:
    with soak_stack(tmp_path) as started:
        yield started


async def test_three_minutes_of_mixed_load_without_5xx_or_growth(
    servers: tuple[str, str, Stack], tmp_path: Path
) -> None:
    nats_url, redis_url, stack = servers
    tally, samples = await soak(
        stack, nats_url, redis_url, seconds=SECONDS, sample_s=5.0, clients=4, ingest_per_s=0.25
    )
    result = report(tmp_path / "report", tally, samples, WARMUP_S)
    assert tally.requests > 500, tally.statuses
    assert not tally.server_errors, tally.server_errors[:5]
    assert (tmp_path / "report" / "soak.png").stat().st_size > 0
    unbounded = {
        name: fit for name, fit in result["slopes_per_10k_requests"].items() if not fit["bounded"]
    }
    assert not unbounded, (unbounded, f"growth share {GROWTH_SHARE}")

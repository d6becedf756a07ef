"""The soak's statistics: least-squares slope per 10 000 requests and its 95 % interval."""

from __future__ import annotations

import random

import pytest

from benchmarks.soak_stats import slope, t_quantile


@pytest.mark.parametrize(("df", "expected"), [(3, 3.182), (10, 2.228), (30, 2.042), (200, 1.972)])
def test_t_quantiles_match_the_tables(df: int, expected: float) -> None:
    assert t_quantile(df) == pytest.approx(expected, rel=0.01)


def test_a_straight_line_has_its_slope_and_no_width() -> None:
    xs = [i * 1000.0 for i in range(10)]
    fit = slope(xs, [5.0 + 0.002 * x for x in xs])  # 20 per 10 000 requests
    assert fit.slope == pytest.approx(20.0)
    assert fit.high - fit.low == pytest.approx(0.0, abs=1e-6)
    assert not fit.bounded(10_000, share=0.10)  # 20 over 10 000 requests on a mean of 14


def test_noise_around_a_level_is_bounded() -> None:
    rng = random.Random(7)
    xs = [i * 500.0 for i in range(30)]
    fit = slope(xs, [100.0 + rng.gauss(0, 2) for _ in xs])
    assert fit.low <= 0 <= fit.high
    assert fit.bounded(15_000, share=0.10)


def test_a_plateau_after_warm_up_is_bounded_even_if_the_fit_leans() -> None:
    xs = [i * 1000.0 for i in range(20)]
    fit = slope(xs, [200.0 + 0.0001 * x for x in xs])  # 0.1 % growth over the run
    assert fit.bounded(20_000, share=0.10)

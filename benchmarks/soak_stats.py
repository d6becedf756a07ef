"""Least-squares slopes with a 95 % confidence interval, and the soak's growth verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

#: x is counted in this many requests: slopes are "per 10 000 requests".
PER = 10_000


@dataclass(frozen=True)
class Slope:
    slope: float  # metric units per 10 000 requests
    low: float  # 95 % confidence interval
    high: float
    mean: float
    samples: int

    def bounded(self, requests: int, share: float, floor: float = 0.0) -> bool:
        """No growth told apart from noise: the interval holds zero, or the growth fitted
        over ``requests`` is under ``share`` of the mean (a plateau after a warm-up) or
        under ``floor`` (a count that moves by a few units either way)."""
        if self.low <= 0 <= self.high:
            return True
        return self.slope * requests / PER <= max(share * abs(self.mean), floor)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def t_quantile(df: int, p: float = 0.975) -> float:
    """Student's t quantile (Cornish-Fisher expansion of the normal one; within 1 % for
    df >= 3, which is all a regression of four or more samples needs)."""
    z = NormalDist().inv_cdf(p)
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def slope(xs: list[float], ys: list[float]) -> Slope:
    """The least-squares slope of ys over xs (xs in requests), per 10 000 requests."""
    n = len(xs)
    if n < 4:
        raise ValueError("a slope needs at least four samples")
    x = [value / PER for value in xs]
    mx, my = sum(x) / n, sum(ys) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    if sxx == 0:
        raise ValueError("no requests between the samples")
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, ys, strict=True)) / sxx
    a = my - b * mx
    residual = sum((yi - a - b * xi) ** 2 for xi, yi in zip(x, ys, strict=True))
    se = math.sqrt(residual / (n - 2) / sxx)
    half = t_quantile(n - 2) * se
    return Slope(b, b - half, b + half, my, n)

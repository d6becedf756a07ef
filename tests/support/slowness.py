"""How much slower than a quiet 2-core machine this one runs right now.

Time bounds that a test asserts (a query "within a moment") are written for a quiet
machine; on a shared one whose run queue is longer than its cores, every process waits
its turn and the same code takes longer. ``RAGAPI_TEST_SLOWNESS`` sets the factor by
hand; otherwise it is the 1-minute load average per core, never below 1.
"""

from __future__ import annotations

import os


def slowness() -> float:
    """The factor to multiply a quiet machine's time bound by (>= 1)."""
    configured = os.environ.get("RAGAPI_TEST_SLOWNESS")
    if configured:
        return max(1.0, float(configured))
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))

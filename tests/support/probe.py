"""A probe that keeps asking a running stack a cheap question while a test misbehaves.

It runs in its own thread with its own connection, so what the test's event loop does
(building or sending a bomb) cannot delay it: what it measures is the server. Every answer
must be a 200 within ``bound_s`` (scaled by :func:`~tests.support.slowness.slowness`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.support.slowness import slowness


@dataclass
class Probe:
    url: str
    headers: dict[str, str]
    path: str = "/v1/documents?limit=1"
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as client:
            while True:
                self.ask(client)
                self.answered.set()
                if self.stop.wait(0.1):  # the probe's pace, not a wait for anything
                    self.ask(client)  # and once more after the misbehaviour ended
                    return

    def ask(self, client: httpx.Client) -> None:
        began = time.perf_counter()
        try:
            status = client.get(self.path).status_code
        except httpx.HTTPError as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
        else:
            if status != 200:
                self.failures.append(f"status {status}")
        self.latencies.append(time.perf_counter() - began)


@contextmanager
def probing(url: str, headers: dict[str, str], bound_s: float = 1.0) -> Iterator[Probe]:
    """Probe ``url`` from before the block to after it; every probe must answer in time.

    The first probe (which opens the connection) is not timed against the bound."""
    probe = Probe(url, headers)
    thread = threading.Thread(target=probe.run, name="probe", daemon=True)
    thread.start()
    # Ready once it has answered (its connection is up); a stack that never answers fails.
    assert probe.answered.wait(30 * slowness()), "the probe never answered"
    try:
        yield probe
    finally:
        probe.stop.set()
        thread.join(60)
    limit = bound_s * slowness()
    assert not probe.failures, probe.failures[:5]
    worst = max(probe.latencies[1:])
    assert worst <= limit, f"a probe took {worst:.2f} s (bound {limit:.2f} s)"

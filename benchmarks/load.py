"""Load generators over aiohttp: a closed loop (C clients back to back) and an open loop
(a fixed arrival rate, whatever the latency).

aiohttp, not httpx: on two cores the generator competes with the server for
CPU, and httpx's client costs more per request than a naive query does on the
server; an httpx-based generator also stalls at high concurrency (its pool
rescans every connection per request). Both loops count CPU of the named
process groups (:class:`benchmarks.harness.Cpu`) over the window and divide
it by the requests that ended in it.

Each cell has a settling time (at least ``settle`` seconds, and in a closed
loop until every client has had its first answer, so that the window sees the
steady state even when one answer takes longer than the window), then a
measurement window: only requests that end inside the window count, and CPU
is read at its edges, so the ramp-up (every client's first request at once)
and the drain (the last answers, at falling concurrency) stay out of the
figures. After the window the loop stops asking and waits for what is in
flight, so a cell's leftovers never burn CPU in the next one.

Closed loop: the rate adapts to the latency, so a slow server is offered less
load. Open loop: request *i* is due at ``start + i / rate``; its latency counts
from that moment, so time spent waiting behind a saturated client or server
counts too (no coordinated omission). Arrivals that find ``max_in_flight``
requests outstanding are dropped and counted, never queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.harness import Cpu, load_average

#: The longest a cell waits for its closed-loop clients' first answers before measuring.
RAMP_LIMIT_S = 180.0
#: ``(question, mode) -> JSON body`` of the system under test.
Body = Callable[[str, str], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """Where and how to ask one system a question."""

    url: str
    body: Body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    """What ended inside the measurement window (``opened`` .. ``closed``, perf_counter)."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    dropped: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    opened: float | None = None
    closed: float | None = None
    #: Set once every closed-loop client has had its first answer (the ramp is over).
    ramped: asyncio.Event = field(default_factory=asyncio.Event)

    def counting(self, now: float) -> bool:
        return self.opened is not None and self.opened <= now and self.closed is None

    async def ask(self, session: aiohttp.ClientSession, target: Target, body: dict[str, Any],
                  started: float) -> None:  # fmt: skip
        """One request; its latency counts from ``started`` (the open loop's due time)."""
        try:
            async with session.post(target.url, json=body, headers=target.headers) as r:
                await r.read()
                status = str(r.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = type(exc).__name__
        now = time.perf_counter()
        if not self.counting(now):
            return
        if status == "200":
            self.latencies.append(now - started)
        else:
            self.errors += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _session(connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=180))


async def closed_loop(target: Target, mode: str, clients: int, questions: Iterator[str],
                      tally: Tally) -> None:  # fmt: skip
    """``clients`` workers, each asking its next question as soon as the last is answered,
    until the window closes."""

    waiting = clients

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal waiting
        first = True
        while tally.closed is None:
            body = target.body(next(questions), mode)
            await tally.ask(session, target, body, time.perf_counter())
            if first:
                first, waiting = False, waiting - 1
                if waiting == 0:
                    tally.ramped.set()

    async with _session(clients) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))


async def open_loop(
    target: Target, mode: str, rate: float, questions: Iterator[str], tally: Tally,
    *, max_in_flight: int,
) -> None:  # fmt: skip
    """``rate`` arrivals a second until the window closes, then wait for those in flight."""
    pending: set[asyncio.Task[None]] = set()
    tally.ramped.set()  # arrivals do not wait for answers: nothing to ramp
    async with _session(max_in_flight) as session:
        start = time.perf_counter()
        for i in itertools.count():
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if tally.closed is not None:
                break
            if len(pending) >= max_in_flight:
                tally.dropped += tally.counting(due)
                continue
            task = asyncio.create_task(
                tally.ask(session, target, target.body(next(questions), mode), due)
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)


async def warm_up(target: Target, mode: str, questions: Iterator[str], n: int = 3) -> None:
    """``n`` questions one after another, outside any measurement (first-use costs)."""
    async with _session(1) as session:
        for _ in range(n):
            await Tally().ask(session, target, target.body(next(questions), mode), 0.0)


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(q) - 1]


async def measure(cpu: Cpu, run: Callable[[Tally], Awaitable[None]], settle: float,
                  duration: float, **labels: Any) -> dict[str, Any]:  # fmt: skip
    """One cell: ``settle`` s of load, and at least until every closed-loop client had its
    first answer, then a ``duration`` s window; QPS, latency quantiles (ms), errors and CPU
    ms per request of each process group, over the window."""
    tally, edges = Tally(), dict[str, Any]()

    async def window() -> None:
        await asyncio.sleep(settle)
        with contextlib.suppress(TimeoutError):  # a client stuck on its first question
            await asyncio.wait_for(tally.ramped.wait(), RAMP_LIMIT_S)
        edges["load"], edges["cpu"] = load_average()[0], cpu.read()
        tally.opened = edges["opened"] = time.perf_counter()
        await asyncio.sleep(duration)
        edges["cpu_end"], edges["load_end"] = cpu.read(), load_average()[0]
        tally.closed = edges["closed"] = time.perf_counter()

    started = time.perf_counter()
    await asyncio.gather(window(), run(tally))
    opened, closed = edges["opened"], edges["closed"]
    done, ended = len(tally.latencies), len(tally.latencies) + tally.errors
    lat = sorted(tally.latencies)
    cell: dict[str, Any] = dict(labels)
    cell |= {
        "queries": done,
        "errors": tally.errors,
        "error_kinds": tally.statuses,
        "dropped": tally.dropped,
        "seconds": round(closed - opened, 1),
        "cell_seconds": round(time.perf_counter() - started, 1),
        "qps": round(done / (closed - opened), 2),
        "p50_ms": round(_quantile(lat, 50) * 1000, 1),
        "p95_ms": round(_quantile(lat, 95) * 1000, 1),
        "p99_ms": round(_quantile(lat, 99) * 1000, 1),
        "load_1m": [edges["load"], edges["load_end"]],
    }
    for name, end in edges["cpu_end"].items():
        used = end - edges["cpu"][name]
        cell[f"{name}_cpu_ms_per_query"] = round(used * 1000 / ended, 2) if ended else None
    return cell
